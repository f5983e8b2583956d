"""complaints: complaints, their sealed threads and thread keys; a collection's
destruction shreds its complaints' threads (a trigger, in the same transaction)

Revision ID: 0009_complaints
Revises: 0008_policy_versions
Create Date: 2026-12-01

The trigger fires on every path that marks a collection destroyed (the sweep, a
manual destruction, a deletion request), so none of them needs to know about
complaints. On SQLite a migration that rebuilds ``collections`` (batch mode with
``recreate``) drops its triggers: such a migration must create this one again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0009_complaints"
down_revision = "0008_policy_versions"
branch_labels = None
depends_on = None

_TRIGGER = "collections_destroyed_shreds_complaints"
_SHRED = (
    "DELETE FROM complaint_keys WHERE collection_id = NEW.id; "
    "DELETE FROM complaint_messages WHERE complaint_id IN "
    "(SELECT id FROM complaints WHERE collection_id = NEW.id);"
)


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(20), nullable=False, comment="received, assigned, closed"),
        sa.Column(
            "channel", sa.String(20), nullable=False, comment="web, or how staff received it"
        ),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column(
            "received_from",
            sa.String(45),
            nullable=True,
            comment="Source address of a public intake (rate limit)",
        ),
        sa.Column("status_token_hash", sa.String(64), nullable=False),
        sa.Column(
            "assigned_to",
            sa.String(100),
            nullable=True,
            comment="Staff username of the handler",
        ),
        sa.Column("assigned_at", UtcDateTime(), nullable=True),
        sa.Column(
            "contact_verified",
            sa.String(20),
            nullable=True,
            comment="How staff confirmed the petitioner's email (phone, document, in_person…)",
        ),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column(
            "delivery", sa.String(20), nullable=True, comment="How the result went: mail, post…"
        ),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["collections.id"], name="fk_complaints_collection_id_collections"
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name="fk_complaints_subject_id_subjects"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_complaints"),
        sa.UniqueConstraint("status_token_hash", name="uq_complaints_status_token_hash"),
    )
    op.create_index("ix_complaints_collection_id", "complaints", ["collection_id"])
    op.create_index("ix_complaints_subject_id", "complaints", ["subject_id"])
    op.create_index("ix_complaints_state_received_at", "complaints", ["state", "received_at"])
    op.create_index(
        "ix_complaints_received_from_received_at", "complaints", ["received_from", "received_at"]
    )
    op.create_table(
        "complaint_keys",
        sa.Column("complaint_id", sa.String(36), nullable=False),
        sa.Column("collection_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(50), nullable=False, comment="Master key that wrapped it"),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name="fk_complaint_keys_complaint_id_complaints"
        ),
        sa.PrimaryKeyConstraint("complaint_id", name="pk_complaint_keys"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_complaint_keys_collection_id", "complaint_keys", ["collection_id"])
    op.create_table(
        "complaint_messages",
        sa.Column("complaint_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, comment="petition, reply, note, result"),
        sa.Column(
            "author", sa.String(100), nullable=False, comment="Staff username, or 'petitioner'"
        ),
        sa.Column("written_at", UtcDateTime(), nullable=False),
        sa.Column(
            "sealed", sa.LargeBinary(), nullable=False, comment="AES-256-GCM nonce+ciphertext+tag"
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name="fk_complaint_messages_complaint_id_complaints",
        ),
        sa.PrimaryKeyConstraint("complaint_id", "seq", name="pk_complaint_messages"),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE TRIGGER {_TRIGGER} AFTER UPDATE OF state ON collections "
            f"WHEN NEW.state = 'destroyed' BEGIN {_SHRED} END"
        )
    else:
        op.execute(
            "CREATE OR REPLACE FUNCTION haechi_shred_complaints() RETURNS trigger AS $$ "
            f"BEGIN {_SHRED} RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {_TRIGGER} AFTER UPDATE OF state ON collections "
            "FOR EACH ROW WHEN (NEW.state = 'destroyed') "
            "EXECUTE FUNCTION haechi_shred_complaints()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {_TRIGGER}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {_TRIGGER} ON collections")
        op.execute("DROP FUNCTION IF EXISTS haechi_shred_complaints()")
    op.drop_table("complaint_messages")
    op.drop_index("ix_complaint_keys_collection_id", table_name="complaint_keys")
    op.drop_table("complaint_keys")
    for name in (
        "ix_complaints_received_from_received_at",
        "ix_complaints_state_received_at",
        "ix_complaints_subject_id",
        "ix_complaints_collection_id",
    ):
        op.drop_index(name, table_name="complaints")
    op.drop_table("complaints")
