"""The sealer: gives committed audit events dense leaf indices and signs tree heads.

Events are inserted by whoever acts, in their own transactions. The sealer picks up
the committed events not yet sealed, appends their leaf hashes to the Merkle tree,
and writes the leaves and a new signed tree head in one transaction. Leaves follow the
order in which the sealer sees commits, which is not always id order. On PostgreSQL
an advisory lock makes one sealer run at a time, however many servers run one; the
unique constraints on leaf index and event id make double sealing impossible even
without it.

New events are found above the highest id sealed so far (an index range scan). On
SQLite that is all: one writer at a time, and ids are taken inside the writing
transaction, so they commit in order. On PostgreSQL ids come from a sequence when a
row is inserted, and a transaction may commit long after a higher id was sealed.

**Gaps.** An id the sealer skipped over (below a sealed id, but held by no committed
event when it looked) is recorded in ``audit_gaps`` with the *horizon*: the first
transaction id PostgreSQL had not yet assigned at that moment. Every transaction that
could hold such an id had its id by then (it is assigned when the row is written,
within the same statement that drew the event id), so it lies below the horizon. Each
round the sealer first seals the events that have appeared inside open gaps, however
late (there is no time limit), and then the new ones. A gap closes once no
transaction below its horizon is still running (``pg_current_snapshot()``'s xmin)
and it is older than ``seal_margin_seconds`` by the database's clock (a cushion for
that one statement): whatever of it was ever going to commit has committed, and has
been sealed in that round. A round that fills its batch with late events closes only
the gaps it has read through.

**The watermark.** ``sealed_through``, signed into each head, lies below every open
gap: every event with an id up to it is sealed, and no transaction that could still
add one is running. So an unsealed event at or below it, which verification flags, is
not a late commit: it was written by a transaction that began after its id's gap had
closed (or after the id was sealed past), which only an explicit id does, that is a
forged insertion. An insertion into a gap that is still open is told apart by the
inserting transaction (the row's ``xmin``, which no client sets): a late commit's
transaction is older than the gap's horizon; a forger's is younger, so the sealer
leaves its row unsealed, and once the gap closes verification flags it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.sql.expression import ColumnClause

from haechi.audit.canonical import EVENT_FIELDS, encode_event
from haechi.audit.merkle import CompactRange, leaf_hash
from haechi.audit.signing import HeadSigner, TreeHead
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import audit_events, audit_gaps, audit_leaves, tree_heads

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
# PostgreSQL's transaction ids: the first not yet assigned, and the oldest still running.
_XMAX: ColumnClause[int] = literal_column("pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
_XMIN: ColumnClause[int] = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
# The 64-bit id of the transaction that inserted the row: its 32-bit xmin, widened
# against the current epoch (a live row's xmin is less than 2^31 transactions old).
_INSERTED_BY: ColumnClause[int] = literal_column(
    "(pg_snapshot_xmax(pg_current_snapshot())::text::bigint - "
    "((pg_snapshot_xmax(pg_current_snapshot())::text::bigint "
    "- audit_events.xmin::text::bigint) & 4294967295))"
)
# Late events (PostgreSQL): committed inside a gap, by a transaction older than the
# gap's horizon (see the module docstring).
_LATE = (
    select(*_EVENT_COLUMNS)
    .select_from(
        audit_events.join(
            audit_gaps, audit_events.c.id.between(audit_gaps.c.low, audit_gaps.c.high)
        )
    )
    .where(
        ~exists().where(audit_leaves.c.event_id == audit_events.c.id),
        audit_gaps.c.horizon > _INSERTED_BY,
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
    # PostgreSQL: ids skipped over in this round, and the gaps this round closes.
    new_gaps: list[tuple[int, int]] = field(default_factory=list)
    closed_gaps: list[int] = field(default_factory=list)


def _collect(
    connection: Connection, *, batch: int, margin: timedelta = timedelta(0)
) -> _Pending | None:
    """Read the waiting events and hash them into the tree (reads only)."""
    previous = latest_head(connection)
    if previous is None:
        compact, watermark, prev_hash = CompactRange(), 0, ZERO_HASH
    else:
        compact = CompactRange.decode(int(previous.size), bytes(previous.compact))
        watermark = int(previous.sealed_through)
        prev_hash = row_to_head(previous).digest()
    base_size = compact.size
    # A prune may have removed every leaf; the watermark still says how far ids went.
    high = max(int(connection.execute(_HIGH).scalar() or 0), watermark)
    gaps = _stragglers_possible(connection)
    closable: list[tuple[int, int]] = []
    if gaps:
        # Taken before the late events are read: every transaction that finished by
        # now is visible to the reads below.
        closable = [
            (int(low), int(top))
            for low, top in connection.execute(
                select(audit_gaps.c.low, audit_gaps.c.high).where(
                    audit_gaps.c.horizon <= _XMIN,
                    audit_gaps.c.found_at <= func.clock_timestamp() - margin,
                )
            )
        ]
    # Rows come straight from the driver: the canonical encoding takes its values as
    # they are, and a sealing round may cover tens of thousands of events.
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        rows: list[Any] = []
        if gaps:
            PreparedStatement(_LATE, connection.dialect).execute(cursor, {"batch": batch})
            rows = list(cursor.fetchall())
        late = len(rows)
        if late < batch:
            PreparedStatement(_NEW, connection.dialect).execute(
                cursor, {"high": high, "batch": batch - late}
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
    pending = _Pending(base_size, compact, watermark, prev_hash, high, rows, leaves)
    if gaps:
        # A full batch of late events may have left later ones unread: close only the
        # gaps read through.
        read_through = int(rows[late - 1][0]) if late == batch else None
        pending.closed_gaps = [
            low for low, top in closable if read_through is None or top <= read_through
        ]
        pending.new_gaps = _skipped(high, [int(row[0]) for row in rows[late:]])
    return pending


def _skipped(high: int, ids: list[int]) -> list[tuple[int, int]]:
    """The id ranges between ``high`` and each of the (ascending) new ``ids``."""
    found = []
    for event_id in ids:
        if event_id > high + 1:
            found.append((high + 1, event_id - 1))
        high = event_id
    return found


def _stragglers_possible(connection: Connection) -> bool:
    # SQLite has one writer at a time, and an event's id is taken inside its
    # transaction: ids commit in order, so nothing can appear below the highest sealed.
    return connection.dialect.name != "sqlite"


def _update_gaps(connection: Connection, pending: _Pending, top: int) -> int:
    """Close and open this round's gaps; return the new watermark (below every open gap)."""
    if pending.closed_gaps:
        connection.execute(delete(audit_gaps).where(audit_gaps.c.low.in_(pending.closed_gaps)))
    if pending.new_gaps:
        # The horizon is read now, after the reads that found the gaps: later is safer.
        connection.execute(
            insert(audit_gaps).values(
                horizon=select(_XMAX).scalar_subquery(), found_at=func.clock_timestamp()
            ),
            [{"low": low, "high": high} for low, high in pending.new_gaps],
        )
    lowest = connection.execute(select(func.min(audit_gaps.c.low))).scalar()
    return top if lowest is None else min(top, int(lowest) - 1)


def _write(
    connection: Connection,
    signer: HeadSigner,
    pending: _Pending,
    *,
    now: Callable[[], datetime],
) -> SealResult:
    """Insert the leaves and the signed head of a collected round."""
    connection.execute(insert(audit_leaves), pending.leaves)
    moment = now()
    top = max(pending.high, max(int(row[0]) for row in pending.rows))
    if _stragglers_possible(connection):
        sealed_through = max(pending.watermark, _update_gaps(connection, pending, top))
    else:
        sealed_through = top
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
                pending = _collect(reader, batch=batch, margin=margin)
        if pending is None:
            return SealResult(None, 0)
        with database.begin() as connection:
            latest = latest_head(connection)
            if (int(latest.size) if latest is not None else 0) != pending.base_size:
                return SealResult(None, 0, locked_out=True)
            return _write(connection, signer, pending, now=now)
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
    pending = _collect(connection, batch=batch, margin=margin)
    if pending is None:
        return SealResult(None, 0)
    return _write(connection, signer, pending, now=now)
