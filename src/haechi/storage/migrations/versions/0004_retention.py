"""retention: due dates, separated store, destruction batches and certificates

Revision ID: 0004_retention
Revises: 0003_log
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0004_retention"
down_revision = "0003_log"
branch_labels = None
depends_on = None

SEPARATED = "haechi_separated"


def upgrade() -> None:
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "due_at",
                UtcDateTime(),
                nullable=True,
                comment="When destruction is due: expiry, or earlier if accomplished or withdrawn",
            )
        )
        batch_op.add_column(
            sa.Column(
                "accomplished_at", UtcDateTime(), nullable=True, comment="Purpose accomplished"
            )
        )
        batch_op.add_column(
            sa.Column(
                "hold_until",
                UtcDateTime(),
                nullable=True,
                comment="Separated: end of the legal hold",
            )
        )
        batch_op.create_index(
            batch_op.f("ix_collections_state_due_at"), ["state", "due_at"], unique=False
        )
    op.execute("UPDATE collections SET due_at = expires_at WHERE due_at IS NULL")

    op.create_table(
        "destruction_batches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column(
            "created_by",
            sa.String(length=100),
            nullable=False,
            comment="The sweeper that destroyed",
        ),
        sa.Column(
            "destroyed", sa.Integer(), nullable=False, comment="Collections destroyed so far"
        ),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True, comment="Privacy officer"),
        sa.Column("confirmed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destruction_batches")),
    )
    op.create_table(
        "destruction_certificates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=63), nullable=False),
        sa.Column(
            "items", sa.Text(), nullable=False, comment="JSON list of item names, never values"
        ),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("destroyed_at", UtcDateTime(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False, comment="Destroyed after due + grace"),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.Column("confirmed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["destruction_batches.id"],
            name=op.f("fk_destruction_certificates_batch_id_destruction_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destruction_certificates")),
        sa.UniqueConstraint(
            "collection_id", name=op.f("uq_destruction_certificates_collection_id")
        ),
    )
    with op.batch_alter_table("destruction_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_destruction_certificates_batch_id"), ["batch_id"], unique=False
        )
    op.create_table(
        "paper_destructions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "description",
            sa.String(length=500),
            nullable=False,
            comment="What, never personal values",
        ),
        sa.Column(
            "method", sa.String(length=20), nullable=False, comment="shredding or incineration"
        ),
        sa.Column("destroyed_by", sa.String(length=100), nullable=False),
        sa.Column("witness", sa.String(length=100), nullable=False),
        sa.Column("destroyed_at", UtcDateTime(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_destructions")),
    )

    # The separated store: on SQLite the attached database of the same name
    # (storage/database.py attaches separated.db on every connection).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {SEPARATED}")
    op.create_table(
        "separated_keys",
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column(
            "key_id", sa.String(length=50), nullable=False, comment="Master key that wrapped it"
        ),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("collection_id", name=op.f("pk_separated_keys")),
        schema=SEPARATED,
        sqlite_with_rowid=False,
    )
    op.create_table(
        "separated_items",
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column(
            "sealed", sa.LargeBinary(), nullable=False, comment="AES-256-GCM nonce+ciphertext+tag"
        ),
        sa.PrimaryKeyConstraint("collection_id", "name", name=op.f("pk_separated_items")),
        schema=SEPARATED,
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("separated_items", schema=SEPARATED)
    op.drop_table("separated_keys", schema=SEPARATED)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP SCHEMA IF EXISTS {SEPARATED}")
    op.drop_table("paper_destructions")
    with op.batch_alter_table("destruction_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_destruction_certificates_batch_id"))
    op.drop_table("destruction_certificates")
    op.drop_table("destruction_batches")
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collections_state_due_at"))
        batch_op.drop_column("hold_until")
        batch_op.drop_column("accomplished_at")
        batch_op.drop_column("due_at")
