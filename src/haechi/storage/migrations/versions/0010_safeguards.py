"""safeguards: staff training records and the privacy officer's attestations; indexes
for the quarterly report (destructions and answered requests by date)

Revision ID: 0010_safeguards
Revises: 0009_complaints
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0010_safeguards"
down_revision = "0009_complaints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_training",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("course", sa.String(200), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff_training"),
    )
    op.create_index("ix_staff_training_staff_id", "staff_training", ["staff_id"])
    op.create_index("ix_staff_training_taken_on", "staff_training", ["taken_on"])
    op.create_table(
        "safeguard_attestations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("quarter", sa.String(6), nullable=False, comment="YYYYQn"),
        sa.Column(
            "measure",
            sa.String(30),
            nullable=False,
            comment="A declared measure kind, or 'quarter'",
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("attested_by", sa.String(100), nullable=False),
        sa.Column("attested_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_safeguard_attestations"),
    )
    op.create_index("ix_safeguard_attestations_quarter", "safeguard_attestations", ["quarter"])
    op.create_index(
        "ix_destruction_certificates_destroyed_at",
        "destruction_certificates",
        ["destroyed_at"],
    )
    op.create_index("ix_rights_requests_closed_at", "rights_requests", ["closed_at"])


def downgrade() -> None:
    op.drop_index("ix_rights_requests_closed_at", table_name="rights_requests")
    op.drop_index("ix_destruction_certificates_destroyed_at", table_name="destruction_certificates")
    op.drop_index("ix_safeguard_attestations_quarter", table_name="safeguard_attestations")
    op.drop_table("safeguard_attestations")
    op.drop_index("ix_staff_training_taken_on", table_name="staff_training")
    op.drop_index("ix_staff_training_staff_id", table_name="staff_training")
    op.drop_table("staff_training")
