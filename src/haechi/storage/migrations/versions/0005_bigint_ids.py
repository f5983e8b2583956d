"""64-bit audit event ids; ids never reused on SQLite; the sealer's gaps

Revision ID: 0005_bigint_ids
Revises: 0004_retention
Create Date: 2026-12-01

PostgreSQL: the event id, its sequence and every column holding an event id become
BIGINT (a rewrite of each table under an exclusive lock: run it in a quiet hour).
SQLite: INTEGER is 64-bit already, but without AUTOINCREMENT a prune that removed
every event lets ids start again from 1; the table is rebuilt with AUTOINCREMENT (its
rows kept, its append-only triggers recreated) and its counter set above every id the
signed heads ever vouched for.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0005_bigint_ids"
down_revision = "0004_retention"
branch_labels = None
depends_on = None

# Columns holding an event id, beside audit_events.id itself.
_REFERENCES = (
    ("audit_leaves", "event_id"),
    ("tree_heads", "sealed_through"),
    ("audit_prune_permits", "upto_event"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_types("BIGINT")
    else:
        _rebuild_sqlite_events(autoincrement=True)
    op.create_table(
        "audit_gaps",
        sa.Column("low", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("high", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "horizon",
            sa.BigInteger(),
            nullable=False,
            comment="First transaction id not yet assigned when the gap was found",
        ),
        sa.Column("found_at", UtcDateTime(), nullable=False, comment="By the database's own clock"),
        sa.PrimaryKeyConstraint("low", name=op.f("pk_audit_gaps")),
    )


def downgrade() -> None:
    op.drop_table("audit_gaps")
    if op.get_bind().dialect.name == "postgresql":
        _postgres_types("INTEGER")
    else:
        _rebuild_sqlite_events(autoincrement=False)


def _postgres_types(kind: str) -> None:
    op.execute(f"ALTER TABLE audit_events ALTER COLUMN id TYPE {kind}")
    op.execute(
        "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS " + kind + "', "
        "pg_get_serial_sequence('audit_events', 'id')); END $$"
    )
    for table, column in _REFERENCES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind}")


def _rebuild_sqlite_events(*, autoincrement: bool) -> None:
    """Rebuild audit_events (rows kept); dropping the old table drops its triggers."""
    with op.batch_alter_table(
        "audit_events", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
    op.execute(
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_events_delete_needs_permit BEFORE DELETE ON audit_events "
        "WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits WHERE OLD.id < upto_event) "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
    )
    if autoincrement:
        # The copy set the counter to the highest id left; a prune may have removed
        # higher ones, which the newest head's watermark still names.
        op.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, "
            "(SELECT coalesce(max(sealed_through), 0) FROM tree_heads)) "
            "WHERE name = 'audit_events'"
        )
        op.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'audit_events', "
            "(SELECT coalesce(max(sealed_through), 0) FROM tree_heads) "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'audit_events')"
        )
