"""published policy versions: number, announcement and effective dates, rendered documents

Revision ID: 0008_policy_versions
Revises: 0007_rights
Create Date: 2026-12-01

Rows already present are files an engine loaded; they stay unpublished (no number).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0008_policy_versions"
down_revision = "0007_rights"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("n", sa.Integer(), nullable=True, comment="Version number, from 1")
        )
        batch_op.add_column(sa.Column("announced_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("effective_at", UtcDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "document_ko", sa.Text(), nullable=True, comment="The published HTML, in Korean"
            )
        )
        batch_op.add_column(
            sa.Column(
                "document_en", sa.Text(), nullable=True, comment="The published HTML, in English"
            )
        )
        batch_op.add_column(sa.Column("published_by", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("applied_at", UtcDateTime(), nullable=True, comment="Narrowed expiries moved")
        )
        batch_op.create_unique_constraint(batch_op.f("uq_policy_versions_n"), ["n"])
        batch_op.create_index(
            batch_op.f("ix_policy_versions_effective_at"), ["effective_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_versions_effective_at"))
        batch_op.drop_constraint(batch_op.f("uq_policy_versions_n"), type_="unique")
        for column in (
            "applied_at",
            "published_by",
            "document_en",
            "document_ko",
            "effective_at",
            "announced_at",
            "n",
        ):
            batch_op.drop_column(column)
