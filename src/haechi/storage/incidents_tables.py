"""Tables of the breach register (PIPA Art. 34): incidents, their sealed records, notices.

Part of :data:`haechi.storage.tables.metadata` (and re-exported there). An incident's
affected set (which subjects, which events), its title and circumstances and every
containment note are sealed under the incident's own data key (``incident_keys``),
like personal data; the plaintext columns hold counts, policy names, dates and ids.
A notice is named by its position in the sealed list, never by the subject's id, so
the table of notices does not tell who was affected.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from haechi.storage.tables import ID, audit_events, metadata
from haechi.storage.types import UtcDateTime

__all__ = [
    "incident_containment",
    "incident_keys",
    "incident_notices",
    "incident_records",
    "incidents",
]

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("state", String(10), nullable=False, comment="open or closed"),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("opened_by", String(100), nullable=False),
    Column("aware_at", UtcDateTime, nullable=False, comment="When the controller became aware"),
    Column("deadline_at", UtcDateTime, nullable=False, comment="aware_at + 72 hours"),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("affected_count", Integer, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("sealed_event_count", Integer, nullable=False, comment="Events with a leaf then"),
    Column("by_purpose", Text, nullable=False, comment="JSON: purpose name → people"),
    Column("by_item", Text, nullable=False, comment="JSON: item name → people"),
    Column("thresholds", Text, nullable=False, comment="JSON: which reporting criteria are met"),
    Column("report_to_regulator", Boolean, nullable=False),
    Column("outside_access", Boolean, nullable=False),
    Column("alerted_at", UtcDateTime, nullable=True, comment="Deadline alert raised"),
    Column("notifying_until", UtcDateTime, nullable=True, comment="A notice run's lease"),
    Column("reported_at", UtcDateTime, nullable=True, comment="Regulator report prepared"),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("closed_by", String(100), nullable=True),
    Index(None, "state", "deadline_at"),
    Index(None, "opened_at"),
)

incident_keys = Table(
    "incident_keys",
    metadata,
    Column("incident_id", String(ID), ForeignKey("incidents.id"), primary_key=True),
    Column("key_id", String(50), nullable=False, comment="Master key that wrapped it"),
    Column("wrapped", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

incident_records = Table(
    "incident_records",
    metadata,
    Column("incident_id", String(ID), ForeignKey("incidents.id"), primary_key=True),
    Column("kind", String(20), primary_key=True, comment="details or affected"),
    Column("sealed", LargeBinary, nullable=False, comment="AES-256-GCM under the incident's key"),
    sqlite_with_rowid=False,
)

incident_notices = Table(
    "incident_notices",
    metadata,
    Column("incident_id", String(ID), ForeignKey("incidents.id"), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False, comment="Position in the list"),
    Column("state", String(12), nullable=False, comment="pending, sent or unreachable"),
    Column("attempted_at", UtcDateTime, nullable=True),
    Column("sent_at", UtcDateTime, nullable=True, comment="The server accepted the message"),
    Index(None, "incident_id", "state"),
    sqlite_with_rowid=False,
)

incident_containment = Table(
    "incident_containment",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(ID), ForeignKey("incidents.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False, comment="token_revoked, account_disabled…"),
    Column("target", String(100), nullable=True, comment="The token or account name"),
    Column("note", LargeBinary, nullable=True, comment="Sealed under the incident's key"),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

# The affected set: reads by the compromised actors within a window, and reads from
# an address (each found address, then its window).
Index("ix_audit_events_actor_occurred_at", audit_events.c.actor, audit_events.c.occurred_at)
# PostgreSQL compares the addresses byte by byte in this index, whatever the
# database's collation, so that a network's text prefix is one range of it.
Index(
    "ix_audit_events_source_ip_occurred_at",
    audit_events.c.source_ip,
    audit_events.c.occurred_at,
    postgresql_ops={"source_ip": "varchar_pattern_ops"},
)
