"""key epochs: epoch keys held by the key provider, one current per store and period of
destruction deadlines; data keys name the epoch key that wrapped them

Existing data keys stay wrapped by the master key (their key_id is the master's): the
key job (`haechi keys run`, and `haechi serve`) re-wraps them under epoch keys, a chunk
per transaction, and until then they open as before.

Revision ID: 0011_key_epochs
Revises: 0010_safeguards
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0011_key_epochs"
down_revision = "0010_safeguards"
branch_labels = None
depends_on = None

_CURRENT = sa.text("retired_at IS NULL")
_MAIN = "Epoch key that wrapped it (before epochs: the master key)"
_SEPARATED = "Separated-store epoch key that wrapped it (before epochs: the master key)"
_OLD = "Master key that wrapped it"


def upgrade() -> None:
    op.create_table(
        "key_epochs",
        sa.Column(
            "id", sa.String(50), nullable=False, comment="The key's name in the key provider"
        ),
        sa.Column("store", sa.String(10), nullable=False, comment="main or separated"),
        sa.Column(
            "period_start", UtcDateTime(), nullable=False, comment="Deadlines from (inclusive)"
        ),
        sa.Column(
            "period_end", UtcDateTime(), nullable=False, comment="Deadlines until (exclusive)"
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column(
            "retired_at",
            UtcDateTime(),
            nullable=True,
            comment="Rotated: wraps no new key; its data keys move to the period's current key",
        ),
        sa.Column(
            "shred_at",
            UtcDateTime(),
            nullable=True,
            comment="First shredding of a data key it wrapped: destroyed by this + backup window",
        ),
        sa.Column("destroyed_at", UtcDateTime(), nullable=True),
        sa.Column(
            "erased_at",
            UtcDateTime(),
            nullable=True,
            comment="When the key provider was seen to hold the destroyed key no more",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_key_epochs"),
    )
    op.create_index(
        "ux_key_epochs_current",
        "key_epochs",
        ["store", "period_start"],
        unique=True,
        sqlite_where=_CURRENT,
        postgresql_where=_CURRENT,
    )
    op.create_index("ix_data_keys_key_id", "data_keys", ["key_id"])
    op.create_table(
        "key_job_claim",
        sa.Column("name", sa.String(30), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False, comment="host:pid:token of the runner"),
        sa.Column(
            "expires_at", UtcDateTime(), nullable=False, comment="Lease end, by the wall clock"
        ),
        sa.PrimaryKeyConstraint("name", name="pk_key_job_claim"),
    )
    _comment("data_keys", None, _OLD, _MAIN)
    _comment("separated_keys", "haechi_separated", _OLD, _SEPARATED)


def _comment(table: str, schema: str | None, old: str, new: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps no column comments
    op.alter_column(
        table,
        "key_id",
        schema=schema,
        existing_type=sa.String(50),
        existing_nullable=False,
        existing_comment=old,
        comment=new,
    )


def downgrade() -> None:
    _comment("separated_keys", "haechi_separated", _SEPARATED, _OLD)
    _comment("data_keys", None, _MAIN, _OLD)
    op.drop_table("key_job_claim")
    op.drop_index("ix_data_keys_key_id", table_name="data_keys")
    op.drop_index("ux_key_epochs_current", table_name="key_epochs")
    op.drop_table("key_epochs")
