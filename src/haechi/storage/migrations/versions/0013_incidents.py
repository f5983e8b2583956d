"""incidents: the breach register, its sealed records, notices and containment; indexes
on the access log by (actor, time) and (address, time) for the affected set

Revision ID: 0013_incidents
Revises: 0010_safeguards
Create Date: 2026-12-01

The two indexes are built over the whole log: on a large PostgreSQL log the upgrade
takes as long as one pass over ``audit_events`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from haechi.storage.types import UtcDateTime

revision = "0013_incidents"
down_revision = "0011_key_epochs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(10), nullable=False, comment="open or closed"),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(100), nullable=False),
        sa.Column(
            "aware_at",
            UtcDateTime(),
            nullable=False,
            comment="When the controller became aware",
        ),
        sa.Column("deadline_at", UtcDateTime(), nullable=False, comment="aware_at + 72 hours"),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("window_end", UtcDateTime(), nullable=False),
        sa.Column("affected_count", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column(
            "sealed_event_count",
            sa.Integer(),
            nullable=False,
            comment="Events with a leaf then",
        ),
        sa.Column("by_purpose", sa.Text(), nullable=False, comment="JSON: purpose name → people"),
        sa.Column("by_item", sa.Text(), nullable=False, comment="JSON: item name → people"),
        sa.Column(
            "thresholds",
            sa.Text(),
            nullable=False,
            comment="JSON: which reporting criteria are met",
        ),
        sa.Column("report_to_regulator", sa.Boolean(), nullable=False),
        sa.Column("outside_access", sa.Boolean(), nullable=False),
        sa.Column("alerted_at", UtcDateTime(), nullable=True, comment="Deadline alert raised"),
        sa.Column("notifying_until", UtcDateTime(), nullable=True, comment="A notice run's lease"),
        sa.Column("reported_at", UtcDateTime(), nullable=True, comment="Regulator report prepared"),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_state_deadline_at", "incidents", ["state", "deadline_at"])
    op.create_index("ix_incidents_opened_at", "incidents", ["opened_at"])
    op.create_table(
        "incident_keys",
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(50), nullable=False, comment="Master key that wrapped it"),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_keys_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("incident_id", name="pk_incident_keys"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "incident_records",
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, comment="details or affected"),
        sa.Column(
            "sealed",
            sa.LargeBinary(),
            nullable=False,
            comment="AES-256-GCM under the incident's key",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_records_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("incident_id", "kind", name="pk_incident_records"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "incident_notices",
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column(
            "n",
            sa.Integer(),
            autoincrement=False,
            nullable=False,
            comment="Position in the list",
        ),
        sa.Column("state", sa.String(12), nullable=False, comment="pending, sent or unreachable"),
        sa.Column("attempted_at", UtcDateTime(), nullable=True),
        sa.Column(
            "sent_at",
            UtcDateTime(),
            nullable=True,
            comment="The server accepted the message",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_notices_incident_id_incidents"
        ),
        sa.PrimaryKeyConstraint("incident_id", "n", name="pk_incident_notices"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_incident_notices_incident_id_state", "incident_notices", ["incident_id", "state"]
    )
    op.create_table(
        "incident_containment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column(
            "kind",
            sa.String(20),
            nullable=False,
            comment="token_revoked, account_disabled…",
        ),
        sa.Column("target", sa.String(100), nullable=True, comment="The token or account name"),
        sa.Column(
            "note", sa.LargeBinary(), nullable=True, comment="Sealed under the incident's key"
        ),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_containment_incident_id_incidents",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_containment"),
    )
    op.create_index("ix_incident_containment_incident_id", "incident_containment", ["incident_id"])
    op.create_index("ix_audit_events_actor_occurred_at", "audit_events", ["actor", "occurred_at"])
    op.create_index(
        "ix_audit_events_source_ip_occurred_at",
        "audit_events",
        ["source_ip", "occurred_at"],
        postgresql_ops={"source_ip": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_source_ip_occurred_at", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_occurred_at", table_name="audit_events")
    op.drop_index("ix_incident_containment_incident_id", table_name="incident_containment")
    op.drop_table("incident_containment")
    op.drop_index("ix_incident_notices_incident_id_state", table_name="incident_notices")
    op.drop_table("incident_notices")
    op.drop_table("incident_records")
    op.drop_table("incident_keys")
    op.drop_index("ix_incidents_opened_at", table_name="incidents")
    op.drop_index("ix_incidents_state_deadline_at", table_name="incidents")
    op.drop_table("incidents")
