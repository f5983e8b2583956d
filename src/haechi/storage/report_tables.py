"""Tables of the quarterly in-house audit: staff training records and attestations.

Part of :data:`haechi.storage.tables.metadata`. Both are append-only records the
privacy officer keeps (reference policy §6): no code path updates or deletes them.
Their notes and course names are staff text, kept for the audit and never logged.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, String, Table, Text

from haechi.storage.rights_tables import rights_requests
from haechi.storage.tables import ID, destruction_certificates, metadata
from haechi.storage.types import UtcDateTime

__all__ = ["safeguard_attestations", "staff_training"]

staff_training = Table(
    "staff_training",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("staff_id", String(ID), nullable=False, index=True),
    Column("username", String(100), nullable=False),
    Column("course", String(200), nullable=False),
    Column("taken_on", Date, nullable=False, index=True),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

safeguard_attestations = Table(
    "safeguard_attestations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("quarter", String(6), nullable=False, index=True, comment="YYYYQn"),
    Column("measure", String(30), nullable=False, comment="A declared measure kind, or 'quarter'"),
    Column("note", Text, nullable=False),
    Column("attested_by", String(100), nullable=False),
    Column("attested_at", UtcDateTime, nullable=False),
)

# The report counts a quarter's destructions and answered requests by date.
Index("ix_destruction_certificates_destroyed_at", destruction_certificates.c.destroyed_at)
Index("ix_rights_requests_closed_at", rights_requests.c.closed_at)
