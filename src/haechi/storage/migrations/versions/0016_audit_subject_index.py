"""audit log: drop the index on subject_id alone, which (subject_id, id) already serves

Every audited decision inserts one event, and each index of ``audit_events`` is one
more B-tree to update in that insert; the two on the subject touch a random page each,
since subject ids are random. Any query by subject (the access export, the console's
filter, the monitors) is answered by ``ix_audit_events_subject_id_id`` as well, in id
order besides.

Revision ID: 0016_audit_subject_index
Revises: 0015_complaint_email_cap
Create Date: 2026-12-09
"""

from __future__ import annotations

from alembic import op

revision = "0016_audit_subject_index"
down_revision = "0015_complaint_email_cap"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_subject_id", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_subject_id", "audit_events", ["subject_id"])
