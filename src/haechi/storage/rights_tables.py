"""Tables of the rights domain: requests people make, their codes, documents and steps.

Part of :data:`haechi.storage.tables.metadata`. No column holds a personal value in
plaintext: the address a request came from and every document received with it are
sealed under the request's own data key (``rights_request_keys``), shredded with the
request once its retention ends; addresses are found by blind-index digest only.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from haechi.storage.tables import EVENT_ID, ID, audit_events, metadata
from haechi.storage.types import UtcDateTime

__all__ = [
    "rights_codes",
    "rights_documents",
    "rights_holds",
    "rights_request_events",
    "rights_request_keys",
    "rights_requests",
]

rights_requests = Table(
    "rights_requests",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("state", String(20), nullable=False),
    Column(
        "requester", String(30), nullable=False, comment="subject, legal_representative, delegate"
    ),
    Column("subject_id", String(ID), nullable=True, index=True, comment="None: nobody on file"),
    Column("contact_kind", String(10), nullable=True),
    Column("contact_digest", LargeBinary(32), nullable=True, comment="Blind index of the address"),
    Column("purposes", Text, nullable=False, comment="JSON list of declared purpose ids"),
    Column("lang", String(2), nullable=False),
    Column("status_token_hash", String(64), nullable=True, unique=True),
    Column("verification_method", String(30), nullable=True),
    Column("verified_at", UtcDateTime, nullable=True),
    Column("verified_by", String(100), nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("original_due_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("postponed_at", UtcDateTime, nullable=True),
    Column("postpone_reason", String(40), nullable=True),
    Column("refusal_reason", String(40), nullable=True),
    Column("refusal_until", UtcDateTime, nullable=True, comment="A legal hold's end"),
    Column("started_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("outcome", Text, nullable=True, comment="JSON: ids, codes and dates, never values"),
    Column("delivery", String(10), nullable=True, comment="mail, post or fax"),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column(
        "alerted", String(10), nullable=True, comment="Deadline alert raised: due_soon, overdue"
    ),
    Column("retain_until", UtcDateTime, nullable=False),
    Column("purged_at", UtcDateTime, nullable=True, comment="Key and documents shredded"),
    Column("created_by", String(100), nullable=False),
    Index(None, "state", "due_at"),
    Index(None, "retain_until"),
)

rights_request_keys = Table(
    "rights_request_keys",
    metadata,
    Column("request_id", String(ID), ForeignKey("rights_requests.id"), primary_key=True),
    Column("key_id", String(50), nullable=False, comment="Master key that wrapped it"),
    Column("wrapped", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

rights_documents = Table(
    "rights_documents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("request_id", String(ID), ForeignKey("rights_requests.id"), nullable=False, index=True),
    Column("kind", String(30), nullable=False, comment="received, power_of_attorney, contact…"),
    Column("media_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sealed", LargeBinary, nullable=False, comment="AES-256-GCM under the request's key"),
    Column("created_at", UtcDateTime, nullable=False),
)

rights_codes = Table(
    "rights_codes",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("request_id", String(ID), ForeignKey("rights_requests.id"), nullable=False, index=True),
    Column("address_digest", LargeBinary(32), nullable=True),
    Column("source_ip", String(45), nullable=True),
    Column(
        "code_hash", LargeBinary(32), nullable=False, comment="HMAC of the code, never the code"
    ),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Index(None, "address_digest", "created_at"),
    Index(None, "source_ip", "created_at"),
)

rights_holds = Table(
    "rights_holds",
    metadata,
    Column("request_id", String(ID), ForeignKey("rights_requests.id"), primary_key=True),
    Column("hold_id", String(ID), ForeignKey("holds.id"), primary_key=True),
    Column("collection_id", String(ID), nullable=False),
)

rights_request_events = Table(
    "rights_request_events",
    metadata,
    Column("request_id", String(ID), primary_key=True),
    Column("event_id", EVENT_ID, primary_key=True, autoincrement=False),
    Column("step", String(30), nullable=False),
    sqlite_with_rowid=False,
)

# The access export lists a person's events newest first: (subject_id, id) answers it
# from the index alone, in order, however long the log.
Index("ix_audit_events_subject_id_id", audit_events.c.subject_id, audit_events.c.id)
