"""Tables of the tamper-evident log: leaves, signed heads, prune permits, gaps; alerts.

Part of :data:`haechi.storage.tables.metadata` (and re-exported there). The events
themselves are :data:`haechi.storage.tables.audit_events`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from haechi.storage.tables import EVENT_ID, metadata
from haechi.storage.types import UtcDateTime

__all__ = [
    "alerts",
    "audit_gaps",
    "audit_leaves",
    "audit_prune_permits",
    "audit_reviews",
    "monitor_cursors",
    "tree_heads",
]

audit_leaves = Table(
    "audit_leaves",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", EVENT_ID, nullable=False, unique=True),
    Column("leaf_hash", LargeBinary(32), nullable=False, comment="SHA-256(0x00 ‖ entry)"),
)

tree_heads = Table(
    "tree_heads",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("compact", LargeBinary, nullable=False, comment="Right-edge subtree roots at size"),
    Column("pruned_below", BigInteger, nullable=False, comment="First leaf kept; signed"),
    Column(
        "sealed_through",
        EVENT_ID,
        nullable=False,
        comment="Every event with a smaller or equal id is sealed by this head",
    ),
)

audit_prune_permits = Table(
    "audit_prune_permits",
    metadata,
    Column("upto_event", EVENT_ID, primary_key=True, autoincrement=False),
    Column("upto_leaf", BigInteger, nullable=False),
    comment="Rows live only inside a prune transaction: they let its deletions through",
)

# PostgreSQL: ids below the sealer's high mark that no committed event held when it
# looked (a transaction still open, or rolled back). See haechi.audit.sealer.
audit_gaps = Table(
    "audit_gaps",
    metadata,
    Column("low", EVENT_ID, primary_key=True, autoincrement=False),
    Column("high", EVENT_ID, nullable=False),
    Column(
        "horizon",
        BigInteger,
        nullable=False,
        comment="First transaction id not yet assigned when the gap was found",
    ),
    Column("found_at", UtcDateTime, nullable=False, comment="By the database's own clock"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("window_end", UtcDateTime, nullable=False),
    Column("detail", Text, nullable=False, comment="JSON: counts and event ids, never values"),
    Column("mailed_at", UtcDateTime, nullable=True),
    Index(None, "raised_at"),
)

monitor_cursors = Table(
    "monitor_cursors",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("next_leaf", BigInteger, nullable=False, comment="Next sealed leaf to look at"),
)

audit_reviews = Table(
    "audit_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False, index=True),
    Column("reviewer", String(100), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("notes", Text, nullable=False),
)
