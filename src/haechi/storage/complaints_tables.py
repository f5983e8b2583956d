"""The tables of complaints (민원), on the same metadata as :mod:`haechi.storage.tables`.

A complaint belongs to one collection under the ``complaints`` purpose (the
petitioner's name and contact, collected with consent). Its thread is sealed under a
data key of its own, wrapped by the master key (``complaint_keys``): a later
re-collection or correction of the petitioner's details replaces the collection's
key, and must not take the thread with it. When the collection is destroyed, a
database trigger (migration 0008) deletes the thread's key and messages in the same
transaction, whichever path destroyed it (the sweep, a manual destruction, a
deletion request), so the thread is crypto-shredded with the collection.

No column holds a message in plaintext; metadata (who, when, which kind) only.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from haechi.storage.tables import ID, metadata
from haechi.storage.types import UtcDateTime

__all__ = ["complaint_keys", "complaint_messages", "complaints"]

complaints = Table(
    "complaints",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("collection_id", String(ID), ForeignKey("collections.id"), nullable=False, index=True),
    Column("subject_id", String(ID), ForeignKey("subjects.id"), nullable=False, index=True),
    Column("state", String(20), nullable=False, comment="received, assigned, closed"),
    Column("channel", String(20), nullable=False, comment="web, or how staff received it"),
    Column("received_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column(
        "received_from",
        String(45),
        nullable=True,
        comment="Source address of a public intake (rate limit)",
    ),
    Column(
        "email_digest",
        LargeBinary,
        nullable=True,
        comment="Blind index of a public intake's email (its cap), never the address",
    ),
    Column("status_token_hash", String(64), nullable=False, unique=True),
    Column("assigned_to", String(100), nullable=True, comment="Staff username of the handler"),
    Column("assigned_at", UtcDateTime, nullable=True),
    Column(
        "contact_verified",
        String(20),
        nullable=True,
        comment="How staff confirmed the petitioner's email (phone, document, in_person…)",
    ),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("delivery", String(20), nullable=True, comment="How the result went: mail, post…"),
    Column("delivered_at", UtcDateTime, nullable=True),
    Index(None, "state", "received_at"),
    Index(None, "received_from", "received_at"),
    Index(None, "email_digest", "received_at"),
)

complaint_keys = Table(
    "complaint_keys",
    metadata,
    Column("complaint_id", String(ID), ForeignKey("complaints.id"), primary_key=True),
    Column("collection_id", String(ID), nullable=False, index=True),
    Column("key_id", String(50), nullable=False, comment="Master key that wrapped it"),
    Column("wrapped", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

complaint_messages = Table(
    "complaint_messages",
    metadata,
    Column("complaint_id", String(ID), ForeignKey("complaints.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(20), nullable=False, comment="petition, reply, note, result"),
    Column("author", String(100), nullable=False, comment="Staff username, or 'petitioner'"),
    Column("written_at", UtcDateTime, nullable=False),
    Column("sealed", LargeBinary, nullable=False, comment="AES-256-GCM nonce+ciphertext+tag"),
    sqlite_with_rowid=False,
)
