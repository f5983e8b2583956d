"""The sealer: gives committed audit events dense leaf indices and signs tree heads.

Events are inserted by whoever acts, in their own transactions. The sealer picks up
the committed events not yet sealed, in id order, appends their leaf hashes to the
Merkle tree, and writes the leaves and a new signed tree head in one transaction.
On PostgreSQL an advisory lock makes one sealer run at a time, however many servers
run one; the unique constraints on leaf index and event id make double sealing
impossible even without it.

``sealed_through`` is a watermark: every event with an id up to it is sealed. Ids
come from a sequence, so on PostgreSQL an event may commit after a later id has been
sealed; the watermark therefore only passes events older than a safety margin, and
the sealer always looks above it for stragglers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, exists, func, insert, select

from haechi.audit.canonical import EVENT_FIELDS, encode_event
from haechi.audit.merkle import CompactRange, leaf_hash
from haechi.audit.signing import HeadSigner, TreeHead
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import audit_events, audit_leaves, tree_heads

__all__ = ["LOCK_KEY", "SealResult", "latest_head", "lock_sealer", "row_to_head", "seal", "seal_on"]

# An arbitrary 64-bit key naming the sealer's advisory lock.
LOCK_KEY = 0x4841_4543_4849_5345  # "HAECHISE"
ZERO_HASH = bytes(32)

_EVENT_COLUMNS = [audit_events.c[name] for name in EVENT_FIELDS]
# New events: above the highest id sealed so far (an index range scan).
_NEW = (
    select(*_EVENT_COLUMNS)
    .where(audit_events.c.id > bindparam("high"))
    .order_by(audit_events.c.id)
    .limit(bindparam("batch"))
)
# Stragglers (PostgreSQL only): committed after a higher id was sealed. Only the
# window between the watermark and the highest sealed id can hold them.
_STRAGGLERS = (
    select(*_EVENT_COLUMNS)
    .where(
        audit_events.c.id > bindparam("watermark"),
        audit_events.c.id <= bindparam("high"),
        ~exists().where(audit_leaves.c.event_id == audit_events.c.id),
    )
    .order_by(audit_events.c.id)
    .limit(bindparam("batch"))
)
_HIGH = select(func.max(audit_leaves.c.event_id))
_LATEST = select(tree_heads).order_by(tree_heads.c.size.desc()).limit(1)


@dataclass(frozen=True)
class SealResult:
    """What one sealing round did."""

    head: TreeHead | None
    sealed: int
    locked_out: bool = False


def row_to_head(row: Any) -> TreeHead:
    """A tree head from its table row."""
    return TreeHead(
        size=int(row.size),
        root=bytes(row.root),
        signed_at=row.signed_at,
        prev_hash=bytes(row.prev_hash),
        key_id=row.key_id,
        signature=bytes(row.signature),
        pruned_below=int(row.pruned_below),
        sealed_through=int(row.sealed_through),
    )


def latest_head(connection: Connection) -> Any:
    """The newest tree-head row, or None before the first seal."""
    return connection.execute(_LATEST).first()


def lock_sealer(connection: Connection) -> None:
    """Take the sealer's lock for this transaction, waiting for another holder."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))


def _try_lock(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return True  # SQLite: the transaction's write lock already excludes others
    return bool(connection.execute(select(func.pg_try_advisory_xact_lock(LOCK_KEY))).scalar())


@dataclass
class _Pending:
    """A sealing round read and hashed, not yet written."""

    base_size: int
    compact: CompactRange
    watermark: int
    prev_hash: bytes
    high: int
    rows: list[Any]
    leaves: list[dict[str, Any]]


def _collect(connection: Connection, *, batch: int) -> _Pending | None:
    """Read the waiting events and hash them into the tree (reads only)."""
    previous = latest_head(connection)
    if previous is None:
        compact, watermark, prev_hash = CompactRange(), 0, ZERO_HASH
    else:
        compact = CompactRange.decode(int(previous.size), bytes(previous.compact))
        watermark = int(previous.sealed_through)
        prev_hash = row_to_head(previous).digest()
    base_size = compact.size
    high = int(connection.execute(_HIGH).scalar() or 0)
    # Rows come straight from the driver: the canonical encoding takes its values as
    # they are, and a sealing round may cover tens of thousands of events.
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        rows: list[Any] = []
        if _stragglers_possible(connection) and high > watermark:
            PreparedStatement(_STRAGGLERS, connection.dialect).execute(
                cursor, {"watermark": watermark, "high": high, "batch": batch}
            )
            rows = list(cursor.fetchall())
        if len(rows) < batch:
            PreparedStatement(_NEW, connection.dialect).execute(
                cursor, {"high": high, "batch": batch - len(rows)}
            )
            rows += cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return None
    leaves = []
    for row in rows:
        digest = leaf_hash(encode_event(row))
        leaves.append({"leaf_index": compact.size, "event_id": row[0], "leaf_hash": digest})
        compact.append(digest)
    return _Pending(base_size, compact, watermark, prev_hash, high, rows, leaves)


def _stragglers_possible(connection: Connection) -> bool:
    # SQLite has one writer at a time, and an event's id is taken inside its
    # transaction: ids commit in order, so nothing can appear below the highest sealed.
    return connection.dialect.name != "sqlite"


def _write(
    connection: Connection,
    signer: HeadSigner,
    pending: _Pending,
    *,
    now: Callable[[], datetime],
    margin: timedelta,
) -> SealResult:
    """Insert the leaves and the signed head of a collected round."""
    connection.execute(insert(audit_leaves), pending.leaves)
    moment = now()
    top = max(pending.high, int(pending.rows[-1][0]))
    if not _stragglers_possible(connection):
        sealed_through = top
    else:
        # Every visible event up to `top` is sealed now. An id logged longer ago than
        # the margin, by the database's own clock, can no longer be overtaken by a
        # transaction still open (events may carry an earlier `occurred_at`).
        candidate = connection.execute(
            select(func.max(audit_events.c.id)).where(
                audit_events.c.id > pending.watermark,
                audit_events.c.id <= top,
                audit_events.c.logged_at <= func.clock_timestamp() - margin,
            )
        ).scalar()
        sealed_through = max(pending.watermark, int(candidate or 0))
    first_leaf = connection.execute(select(func.min(audit_leaves.c.leaf_index))).scalar()
    compact = pending.compact
    head = signer.sign(
        TreeHead(
            size=compact.size,
            root=compact.root(),
            signed_at=moment,
            prev_hash=pending.prev_hash,
            key_id=signer.key_id,
            pruned_below=int(first_leaf or 0),
            sealed_through=sealed_through,
        )
    )
    connection.execute(
        insert(tree_heads).values(
            size=head.size,
            root=head.root,
            signed_at=head.signed_at,
            prev_hash=head.prev_hash,
            key_id=head.key_id,
            signature=head.signature,
            compact=compact.encode(),
            pruned_below=head.pruned_below,
            sealed_through=head.sealed_through,
        )
    )
    return SealResult(head, len(pending.rows))


def seal(
    database: Engine,
    signer: HeadSigner,
    *,
    now: Callable[[], datetime],
    batch: int = 50_000,
    margin: timedelta = timedelta(minutes=1),
) -> SealResult:
    """Seal up to ``batch`` committed events under a new signed tree head.

    On SQLite the events are read and hashed in a read transaction, and only the
    inserts take the database's single write lock, so requests are held up for the
    time of the inserts, not of the hashing. The write checks that no other sealer
    moved the tree in between (if one did, this round is dropped and redone later).
    """
    if database.dialect.name == "sqlite":
        with database.connect() as reader:
            reader.execution_options(sqlite_deferred=True)
            with reader.begin():
                pending = _collect(reader, batch=batch)
        if pending is None:
            return SealResult(None, 0)
        with database.begin() as connection:
            latest = latest_head(connection)
            if (int(latest.size) if latest is not None else 0) != pending.base_size:
                return SealResult(None, 0, locked_out=True)
            return _write(connection, signer, pending, now=now, margin=margin)
    with database.begin() as connection:
        if not _try_lock(connection):
            return SealResult(None, 0, locked_out=True)
        return seal_on(connection, signer, now=now, batch=batch, margin=margin)


def seal_on(
    connection: Connection,
    signer: HeadSigner,
    *,
    now: Callable[[], datetime],
    batch: int = 50_000,
    margin: timedelta = timedelta(minutes=1),
) -> SealResult:
    """Seal inside the caller's transaction (which must hold the sealer's lock)."""
    pending = _collect(connection, batch=batch)
    if pending is None:
        return SealResult(None, 0)
    return _write(connection, signer, pending, now=now, margin=margin)
