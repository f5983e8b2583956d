"""staff accounts: lockout, TOTP, grants, append-only grant history, sessions

Revision ID: 0002_staff
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0002_staff"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("disabled_at", UtcDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "totp_sealed",
                sa.LargeBinary(),
                nullable=True,
                comment="AES-256-GCM sealed TOTP secret",
            )
        )
        batch_op.add_column(
            sa.Column(
                "totp_last_step",
                sa.Integer(),
                nullable=True,
                comment="Last TOTP time step accepted",
            )
        )
        batch_op.add_column(sa.Column("last_login_at", UtcDateTime(), nullable=True))

    op.create_table(
        "staff_grants",
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=63), nullable=False),
        sa.Column("granted_by", sa.String(length=100), nullable=False),
        sa.Column("granted_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_grants_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("staff_id", "purpose", name=op.f("pk_staff_grants")),
    )
    op.create_table(
        "staff_grant_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column(
            "change",
            sa.String(length=20),
            nullable=False,
            comment="create, grant, revoke, role, disable",
        ),
        sa.Column("purpose", sa.String(length=63), nullable=True),
        sa.Column("role", sa.String(length=30), nullable=True, comment="The role after the change"),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_grant_history")),
    )
    with op.batch_alter_table("staff_grant_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_grant_history_staff_id"), ["staff_id"], unique=False
        )

    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_sessions_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_staff_id"), ["staff_id"], unique=False)

    _append_only("staff_grant_history")


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on ``table`` inside the database itself (as 0001 does)."""
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
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_staff_id"))
    op.drop_table("staff_sessions")
    with op.batch_alter_table("staff_grant_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_grant_history_staff_id"))
    op.drop_table("staff_grant_history")
    op.drop_table("staff_grants")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("last_login_at")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_sealed")
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("locked_at")
        batch_op.drop_column("failed_logins")
