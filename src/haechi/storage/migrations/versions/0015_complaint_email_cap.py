"""complaints: the blind index of a public intake's email, for its per-email cap

Revision ID: 0015_complaint_email_cap
Revises: 0014_mail_outbox
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_complaint_email_cap"
down_revision = "0014_mail_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "complaints",
        sa.Column(
            "email_digest",
            sa.LargeBinary(),
            nullable=True,
            comment="Blind index of a public intake's email (its cap), never the address",
        ),
    )
    op.create_index(
        "ix_complaints_email_digest_received_at", "complaints", ["email_digest", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_email_digest_received_at", table_name="complaints")
    op.drop_column("complaints", "email_digest")
