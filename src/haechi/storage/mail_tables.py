"""The mail outbox: every message Haechi sends waits here until the SMTP server takes it.

Part of :data:`haechi.storage.tables.metadata`. A message is sealed under its own data
key (wrapped by the key provider): addresses, codes and an access request's export
are never plaintext. Once the server accepts it, the key and the sealed message are
deleted and the row keeps only ids, kinds and times; ``sent_at`` is set then and only
then, so nothing is recorded as sent that the server did not take.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Table

from haechi.storage.tables import EVENT_ID, metadata
from haechi.storage.types import UtcDateTime

__all__ = ["mail_outbox"]

mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", EVENT_ID, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False, comment="code, result, alert…"),
    Column("reference", String(100), nullable=True, comment="The request's id, never a value"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True, comment="Not sent after (a code's end)"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime, nullable=True, comment="A server is sending it"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(100), nullable=True, comment="Exception type only"),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("expired_at", UtcDateTime, nullable=True),
    Column("key_id", String(50), nullable=True, comment="Master key that wrapped the data key"),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("sealed", LargeBinary, nullable=True, comment="AES-256-GCM of the whole message"),
)

Index("ix_mail_outbox_pending", mail_outbox.c.sent_at, mail_outbox.c.next_attempt_at)
