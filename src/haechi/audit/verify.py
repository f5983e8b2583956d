"""Verification of the log: recompute every leaf and root, check every head and witness.

Leaves are recomputed from the event rows themselves, never taken from the stored
leaf hashes, so a changed, deleted, inserted or reordered event changes a root that
a signature vouches for. Where the stored leaf hash and the recomputed one differ,
the exact leaf is named; where only a root differs (a splice that rewrote the leaf
table too), the first leaf of the first range whose root fails is named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select

from haechi.audit.canonical import EVENT_FIELDS, encode_event
from haechi.audit.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from haechi.audit.sealer import ZERO_HASH, row_to_head
from haechi.audit.signing import HeadVerifier, TreeHead
from haechi.errors import InvalidInput, NotFound
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import audit_events, audit_leaves, tree_heads

__all__ = [
    "LARGEST_ID",
    "ConsistencyProof",
    "InclusionProof",
    "VerifyReport",
    "prove_consistency",
    "prove_inclusion",
    "verify_log",
]

#: the largest event id or tree size a (64-bit) column holds
LARGEST_ID = 2**63 - 1


@dataclass
class VerifyReport:
    """The outcome of a verification."""

    ok: bool = True
    size: int = 0
    heads: int = 0
    leaves_checked: int = 0
    pruned_below: int = 0
    first_bad_leaf: int | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, problem: str, leaf: int | None = None) -> None:
        """Record a problem; keep the earliest bad leaf."""
        self.ok = False
        self.problems.append(problem)
        if leaf is not None and (self.first_bad_leaf is None or leaf < self.first_bad_leaf):
            self.first_bad_leaf = leaf

    def to_json(self) -> dict[str, object]:
        """The report as JSON."""
        return {
            "ok": self.ok,
            "size": self.size,
            "heads": self.heads,
            "leaves_checked": self.leaves_checked,
            "pruned_below": self.pruned_below,
            "first_bad_leaf": self.first_bad_leaf,
            "problems": self.problems,
        }


def _heads(connection: Connection) -> list[tuple[TreeHead, bytes]]:
    rows = connection.execute(select(tree_heads).order_by(tree_heads.c.size))
    return [(row_to_head(row), bytes(row.compact)) for row in rows]


def _check_chain(heads: Sequence[TreeHead], verifier: HeadVerifier, report: VerifyReport) -> None:
    previous: TreeHead | None = None
    for head in heads:
        if not verifier.verify(head):
            report.fail(f"tree head of size {head.size} has a bad signature")
        expected = previous.digest() if previous else ZERO_HASH
        if head.prev_hash != expected:
            report.fail(f"tree head of size {head.size} does not chain to the previous head")
        if previous is not None and head.signed_at < previous.signed_at:
            report.fail(f"tree head of size {head.size} is older than the head before it")
        if previous is not None and head.pruned_below < previous.pruned_below:
            report.fail(f"tree head of size {head.size} un-prunes leaves")
        previous = head


def verify_log(
    connection: Connection,
    verifier: HeadVerifier,
    *,
    witness: Iterable[TreeHead] = (),
    chunk: int = 20_000,
) -> VerifyReport:
    """Verify the whole log against its signed heads (and a witness's, if given)."""
    report = VerifyReport()
    heads_with_ranges = _heads(connection)
    heads = [head for head, _ in heads_with_ranges]
    report.heads = len(heads)
    _check_chain(heads, verifier, report)
    latest = heads[-1].size if heads else 0
    report.size = latest

    # Where the leaves must start is signed into the newest head: a deleted prefix
    # cannot pass for a prune.
    start = heads[-1].pruned_below if heads else 0
    first_leaf = connection.execute(select(func.min(audit_leaves.c.leaf_index))).scalar()
    if latest and (first_leaf is None or int(first_leaf) > start):
        report.fail(f"leaf {start} is missing", start)
    compact = CompactRange()
    if start > 0:
        anchor = next(((h, c) for h, c in heads_with_ranges if h.size == start), None)
        if anchor is None:
            report.fail(f"leaves start at {start}, where no tree head anchors them", start)
            return report
        compact = CompactRange.decode(start, anchor[1])
        if compact.root() != anchor[0].root:
            report.fail(f"the saved tree edge at size {start} does not match its head", start)
            return report
        report.pruned_below = start

    witness_heads = list(witness)
    _check_witness(heads, witness_heads, verifier, report)
    # The witness's roots are recomputed too: a rewritten range is then named.
    checkpoints: dict[int, list[bytes]] = {}
    for head in [*heads, *witness_heads]:
        if start < head.size <= latest:
            checkpoints.setdefault(head.size, []).append(head.root)
    range_start = start
    expected = start
    columns = [audit_events.c[name] for name in EVENT_FIELDS]
    query = (
        select(audit_leaves.c.leaf_index, audit_leaves.c.leaf_hash, *columns)
        .select_from(
            audit_leaves.outerjoin(audit_events, audit_events.c.id == audit_leaves.c.event_id)
        )
        .where(audit_leaves.c.leaf_index >= bindparam("start"))
        .order_by(audit_leaves.c.leaf_index)
    )
    for row in _stream(connection, query, {"start": expected}, chunk):
        index = int(row[0])
        if index != expected:
            report.fail(f"leaf {expected} is missing", expected)
            break
        stored = bytes(row[1])
        if row[2] is None:  # the event row is gone
            report.fail(f"the event of leaf {index} was deleted", index)
        elif leaf_hash(encode_event(row[2:])) != stored:
            report.fail(f"the event of leaf {index} was altered", index)
        # The tree is rebuilt from the stored leaf hashes, so that a changed event is
        # named exactly, and a rewritten leaf table still fails against the roots.
        compact.append(stored)
        expected += 1
        roots = checkpoints.get(compact.size)
        if roots is not None:
            root = compact.root()
            for wanted in roots:
                if root != wanted:
                    report.fail(
                        f"the root at size {compact.size} does not match its signed head",
                        range_start,
                    )
            range_start = compact.size
    report.leaves_checked = expected - start
    if expected < latest:
        report.fail(f"the log holds {expected} leaves but its newest head says {latest}", expected)
    elif expected > latest:
        report.fail(f"{expected - latest} leaves are not covered by any signed head", latest)
    if heads:
        _check_unsealed_inside(connection, heads[-1].sealed_through, report)
    return report


def _check_witness(
    heads: Sequence[TreeHead],
    witness: Iterable[TreeHead],
    verifier: HeadVerifier,
    report: VerifyReport,
) -> None:
    """Every head a witness holds must be one of the log's own, byte for byte.

    Heads are never deleted, not even by a prune, so a witness head without an
    identical local twin (size, root, time, chain, boundary, watermark, signature)
    means the log was rewritten, rolled back, or signed outside it with a stolen key;
    this holds in the pruned prefix too, where no leaf is left to recompute a root.
    The local heads themselves are checked against the leaves and the chain.
    """
    local = {head.size: head for head in heads}
    latest = heads[-1].size if heads else 0
    for held in sorted(witness, key=lambda head: head.size):
        if not verifier.verify(held):
            report.fail(f"witness head of size {held.size} is not signed by this log's key")
        twin = local.get(held.size)
        if held.size > latest:
            report.fail(
                f"the witness holds a head of size {held.size}, beyond this log's {latest}: "
                "the log was truncated or rolled back",
                latest,
            )
        elif twin is None:
            report.fail(f"the witness holds a head of size {held.size} that this log lacks")
        elif twin.digest() != held.digest():
            report.fail(f"the log's head of size {held.size} differs from the witness's")


def _stream(
    connection: Connection, query: Select[Any], values: dict[str, Any], chunk: int
) -> Iterator[tuple[Any, ...]]:
    """Rows straight from the driver, in chunks: a million rows in constant memory.

    The canonical encoding accepts the driver's values as they come (see
    :mod:`haechi.audit.canonical`), so no per-row type conversion is needed.
    """
    prepared = PreparedStatement(query, connection.dialect)
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        prepared.execute(cursor, values)
        while rows := cursor.fetchmany(chunk):
            yield from rows
    finally:
        cursor.close()


def _check_unsealed_inside(connection: Connection, watermark: int, report: VerifyReport) -> None:
    """Events at or below the signed watermark that no leaf covers were forged.

    The watermark stays below every id a running transaction could still commit (see
    :mod:`haechi.audit.sealer`): a late commit is sealed, wherever its id lies, and an
    unsealed event below the watermark can only have been inserted with an explicit id.
    There is no lower bound: pruned events leave with their leaves, so nothing
    legitimate lives below the first leaf either.
    """
    if not watermark:
        return
    stray = connection.execute(
        select(func.min(audit_events.c.id)).where(
            audit_events.c.id <= watermark,
            ~select(audit_leaves.c.event_id)
            .where(audit_leaves.c.event_id == audit_events.c.id)
            .exists(),
        )
    ).scalar()
    if stray is not None:
        report.fail(f"event {stray} sits inside the sealed range but was never sealed")


@dataclass(frozen=True)
class InclusionProof:
    """An event's leaf, its audit path, and the head it is proven against."""

    event_id: int
    leaf_index: int
    leaf_hash: bytes
    path: list[bytes]
    head: TreeHead

    def verify(self) -> bool:
        """Check the path against the head's root."""
        return verify_inclusion(
            self.leaf_index, self.head.size, self.leaf_hash, self.path, self.head.root
        )

    def to_json(self) -> dict[str, object]:
        """The proof as JSON."""
        return {
            "event_id": self.event_id,
            "leaf_index": self.leaf_index,
            "leaf_hash": self.leaf_hash.hex(),
            "path": [node.hex() for node in self.path],
            "tree_head": self.head.to_json(),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """Proof that an older head's tree is a prefix of a newer head's."""

    old: TreeHead
    new: TreeHead
    path: list[bytes]

    def verify(self) -> bool:
        """Check the proof against both roots."""
        return verify_consistency(
            self.old.size, self.new.size, self.old.root, self.new.root, self.path
        )

    def to_json(self) -> dict[str, object]:
        """The proof as JSON."""
        return {
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "path": [node.hex() for node in self.path],
        }


def _leaf_reader(connection: Connection) -> Callable[[int, int], list[bytes]]:
    def get(begin: int, end: int) -> list[bytes]:
        rows = connection.execute(
            select(audit_leaves.c.leaf_hash)
            .where(audit_leaves.c.leaf_index >= begin, audit_leaves.c.leaf_index < end)
            .order_by(audit_leaves.c.leaf_index)
        ).scalars()
        hashes = [bytes(value) for value in rows]
        if len(hashes) != end - begin:
            raise NotFound("part of the tree was pruned; no proof can be built across it")
        return hashes

    return get


def _head_of_size(connection: Connection, size: int | None) -> TreeHead:
    query = select(tree_heads).order_by(tree_heads.c.size.desc()).limit(1)
    if size is not None:
        query = select(tree_heads).where(tree_heads.c.size == size)
    row = connection.execute(query).first()
    if row is None:
        raise NotFound(
            "no signed tree head" + (f" of size {size}" if size is not None else ""),
            field="size",
        )
    return row_to_head(row)


def prove_inclusion(connection: Connection, event_id: int) -> InclusionProof:
    """The inclusion proof of a sealed event in the newest head."""
    if not 0 < event_id <= LARGEST_ID:
        # No column holds it: never sent to a database that would refuse it as out of range.
        raise NotFound(f"event {event_id} is not sealed (yet)", field="event_id")
    row = connection.execute(
        select(audit_leaves.c.leaf_index, audit_leaves.c.leaf_hash).where(
            audit_leaves.c.event_id == event_id
        )
    ).first()
    if row is None:
        raise NotFound(f"event {event_id} is not sealed (yet)", field="event_id")
    head = _head_of_size(connection, None)
    get = _leaf_reader(connection)
    path = inclusion_proof(int(row.leaf_index), head.size, get)
    return InclusionProof(event_id, int(row.leaf_index), bytes(row.leaf_hash), path, head)


def prove_consistency(connection: Connection, old: int, new: int) -> ConsistencyProof:
    """The consistency proof between the heads of sizes ``old`` and ``new``."""
    if not 0 < old <= new:
        raise InvalidInput("sizes must satisfy 0 < OLD <= NEW", field="old_size")
    if new > LARGEST_ID:
        raise NotFound(f"no signed tree head of size {new}", field="size")
    old_head = _head_of_size(connection, old)
    new_head = _head_of_size(connection, new)
    get = _leaf_reader(connection)
    path = consistency_proof(old, new, get)
    return ConsistencyProof(old_head, new_head, path)
