"""tamper-evident log

Revision ID: 0003_log
Revises: 0002_staff
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0003_log"
down_revision = "0002_staff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("raised_at", UtcDateTime(), nullable=False),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("window_end", UtcDateTime(), nullable=False),
        sa.Column(
            "detail", sa.Text(), nullable=False, comment="JSON: counts and event ids, never values"
        ),
        sa.Column("mailed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_raised_at"), ["raised_at"], unique=False)

    op.create_table(
        "audit_leaves",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column(
            "leaf_hash", sa.LargeBinary(length=32), nullable=False, comment="SHA-256(0x00 ‖ entry)"
        ),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_leaves_event_id")),
    )
    op.create_table(
        "audit_prune_permits",
        sa.Column("upto_event", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("upto_leaf", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("upto_event", name=op.f("pk_audit_prune_permits")),
        comment="Rows live only inside a prune transaction: they let its deletions through",
    )
    op.create_table(
        "audit_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_reviews")),
    )
    with op.batch_alter_table("audit_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_reviews_month"), ["month"], unique=False)

    op.create_table(
        "monitor_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column(
            "next_leaf", sa.BigInteger(), nullable=False, comment="Next sealed leaf to look at"
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_monitor_cursors")),
    )
    op.create_table(
        "tree_heads",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signed_at", UtcDateTime(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column(
            "compact", sa.LargeBinary(), nullable=False, comment="Right-edge subtree roots at size"
        ),
        sa.Column(
            "pruned_below", sa.BigInteger(), nullable=False, comment="First leaf kept; signed"
        ),
        sa.Column(
            "sealed_through",
            sa.Integer(),
            nullable=False,
            comment="Every event with a smaller or equal id is sealed by this head",
        ),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_tree_heads")),
    )
    op.create_index(
        op.f("ix_audit_events_occurred_at"), "audit_events", ["occurred_at"], unique=False
    )
    # PostgreSQL only: the database's own clock at insert (clock_timestamp(), not the
    # transaction's start), for the sealer's watermark. SQLite commits ids in order and
    # needs none; it cannot add a column with a non-constant default anyway.
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column(
        "audit_events",
        sa.Column(
            "logged_at",
            UtcDateTime(),
            nullable=True,
            server_default=sa.text("clock_timestamp()") if postgres else None,
            comment="PostgreSQL: when the database stored the row, by its own clock",
        ),
    )
    _triggers()


def _triggers() -> None:
    """Append-only, in the database itself; deletions only under a prune permit.

    The sealed log may lose its oldest events to retention, and only through
    ``haechi audit prune``, which inserts a permit row in its own transaction, deletes
    up to it, then removes it. Updates are never allowed; tree heads are never deleted.
    """
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER audit_events_no_delete")
        for table, column, permit in (
            ("audit_events", "id", "upto_event"),
            ("audit_leaves", "leaf_index", "upto_leaf"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_delete_needs_permit BEFORE DELETE ON {table} "
                f"WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits "
                f"WHERE OLD.{column} < {permit}) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        op.execute(
            "CREATE TRIGGER audit_leaves_no_update BEFORE UPDATE ON audit_leaves "
            "BEGIN SELECT RAISE(ABORT, 'audit_leaves is append-only'); END"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER tree_heads_no_{verb.lower()} BEFORE {verb} ON tree_heads "
                "BEGIN SELECT RAISE(ABORT, 'tree_heads is append-only'); END"
            )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION haechi_append_only() RETURNS trigger AS $$ "
        "BEGIN "
        # OLD is read through jsonb: the function serves tables with different columns.
        "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_prune_permits p WHERE "
        "(TG_TABLE_NAME = 'audit_events' AND (to_jsonb(OLD)->>'id')::bigint < p.upto_event) "
        "OR (TG_TABLE_NAME = 'audit_leaves' "
        "AND (to_jsonb(OLD)->>'leaf_index')::bigint < p.upto_leaf)) "
        "THEN RETURN OLD; END IF; "
        "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; "
        "END $$ LANGUAGE plpgsql"
    )
    for table in ("audit_leaves", "tree_heads"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION haechi_append_only()"
        )


def downgrade() -> None:
    op.drop_table("tree_heads")
    op.drop_table("monitor_cursors")
    with op.batch_alter_table("audit_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_reviews_month"))

    op.drop_table("audit_reviews")
    op.drop_table("audit_prune_permits")
    op.drop_table("audit_leaves")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_raised_at"))

    op.drop_table("alerts")
