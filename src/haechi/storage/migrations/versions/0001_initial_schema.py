"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("purposes", sa.Text(), nullable=False, comment="JSON list of purpose ids"),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.Integer(),
            autoincrement=True,
            nullable=False,
            comment="Event id, in insert order",
        ),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column("subject_id", sa.String(length=36), nullable=True),
        sa.Column("collection_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("purpose", sa.String(length=63), nullable=True),
        sa.Column(
            "items", sa.Text(), nullable=False, comment="JSON list of item names, never values"
        ),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "policy_versions",
        sa.Column(
            "id",
            sa.String(length=16),
            nullable=False,
            comment="First 16 hex digits of content_hash",
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("loaded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_policy_versions_content_hash")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_username")),
    )
    op.create_table(
        "subjects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=63), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("policy_version", sa.String(length=16), nullable=False),
        sa.Column("consented", sa.Boolean(), nullable=False),
        sa.Column("collected_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_version"],
            ["policy_versions.id"],
            name=op.f("fk_collections_policy_version_policy_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_collections_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
    )
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collections_state_expires_at"), ["state", "expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_collections_subject_id_purpose"), ["subject_id", "purpose"], unique=False
        )

    op.create_table(
        "subject_lookups",
        sa.Column(
            "digest",
            sa.LargeBinary(length=32),
            nullable=False,
            comment="HMAC of kind + normalised value",
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_subject_lookups_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_subject_lookups")),
    )
    with op.batch_alter_table("subject_lookups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_lookups_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=63), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=50), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column(
            "text_hash",
            sa.String(length=64),
            nullable=True,
            comment="SHA-256 of the consent text shown",
        ),
        sa.Column("policy_version", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_consents_collection_id_collections"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_version"],
            ["policy_versions.id"],
            name=op.f("fk_consents_policy_version_policy_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_consents_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consents_collection_id"), ["collection_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consents_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "data_keys",
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column(
            "key_id", sa.String(length=50), nullable=False, comment="Master key that wrapped it"
        ),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_data_keys_collection_id_collections"),
        ),
        sa.PrimaryKeyConstraint("collection_id", name=op.f("pk_data_keys")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("placed_by", sa.String(length=100), nullable=False),
        sa.Column("placed_at", UtcDateTime(), nullable=False),
        sa.Column("released_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["collections.id"], name=op.f("fk_holds_collection_id_collections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_holds_collection_id"), ["collection_id"], unique=False)

    op.create_table(
        "items",
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column(
            "sealed", sa.LargeBinary(), nullable=False, comment="AES-256-GCM nonce+ciphertext+tag"
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["collections.id"], name=op.f("fk_items_collection_id_collections")
        ),
        sa.PrimaryKeyConstraint("collection_id", "name", name=op.f("pk_items")),
        sqlite_with_rowid=False,
    )

    _append_only("audit_events")


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on ``table`` inside the database itself."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION haechi_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION haechi_append_only()"
    )


def downgrade() -> None:
    op.drop_table("items")
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_holds_collection_id"))

    op.drop_table("holds")
    op.drop_table("data_keys")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_subject_id"))
        batch_op.drop_index(batch_op.f("ix_consents_collection_id"))

    op.drop_table("consents")
    with op.batch_alter_table("subject_lookups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_lookups_subject_id"))

    op.drop_table("subject_lookups")
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collections_subject_id_purpose"))
        batch_op.drop_index(batch_op.f("ix_collections_state_expires_at"))

    op.drop_table("collections")
    op.drop_table("subjects")
    op.drop_table("staff")
    op.drop_table("policy_versions")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_subject_id"))

    op.drop_table("audit_events")
    op.drop_table("api_tokens")
