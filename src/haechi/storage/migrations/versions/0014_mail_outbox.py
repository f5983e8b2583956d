"""mail outbox: messages sealed until the SMTP server accepts them

Revision ID: 0014_mail_outbox
Revises: 0010_safeguards
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0014_mail_outbox"
down_revision = "0013_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False, comment="code, result, alert…"),
        sa.Column(
            "reference", sa.String(100), nullable=True, comment="The request's id, never a value"
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column(
            "expires_at", UtcDateTime(), nullable=True, comment="Not sent after (a code's end)"
        ),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("claimed_until", UtcDateTime(), nullable=True, comment="A server is sending it"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(100), nullable=True, comment="Exception type only"),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("expired_at", UtcDateTime(), nullable=True),
        sa.Column(
            "key_id",
            sa.String(50),
            nullable=True,
            comment="Master key that wrapped the data key",
        ),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column(
            "sealed", sa.LargeBinary(), nullable=True, comment="AES-256-GCM of the whole message"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mail_outbox"),
    )
    op.create_index("ix_mail_outbox_pending", "mail_outbox", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_pending", table_name="mail_outbox")
    op.drop_table("mail_outbox")
