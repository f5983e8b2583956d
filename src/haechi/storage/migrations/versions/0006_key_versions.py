"""key versions and shared phones: a data key generation per collection; a phone digest
may belong to several subjects, an email digest to one

Revision ID: 0006_key_versions
Revises: 0005_bigint_ids
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_key_versions"
down_revision = "0005_bigint_ids"
branch_labels = None
depends_on = None

_EMAIL_ONLY = sa.text("kind = 'email'")


def upgrade() -> None:
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "key_version",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="Data key generation: new at each re-collection, "
                "in every item's associated data",
            )
        )
    # Until now one digest named one subject, so every existing row stays unique.
    with op.batch_alter_table("subject_lookups", schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint("pk_subject_lookups", type_="primary")
        batch_op.create_primary_key("pk_subject_lookups", ["digest", "subject_id"])
    op.create_index(
        "ux_subject_lookups_email",
        "subject_lookups",
        ["digest"],
        unique=True,
        sqlite_where=_EMAIL_ONLY,
        postgresql_where=_EMAIL_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ux_subject_lookups_email", table_name="subject_lookups")
    # Shared phones cannot go back to one subject per digest: one holder stays.
    op.execute(
        "DELETE FROM subject_lookups WHERE EXISTS (SELECT 1 FROM subject_lookups AS other "
        "WHERE other.digest = subject_lookups.digest "
        "AND other.subject_id < subject_lookups.subject_id)"
    )
    with op.batch_alter_table("subject_lookups", schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint("pk_subject_lookups", type_="primary")
        batch_op.create_primary_key("pk_subject_lookups", ["digest"])
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_column("key_version")
