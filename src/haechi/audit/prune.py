"""Retention of the access log: remove events past retention at sealed boundaries.

Only whole prefixes covered by a signed head go, and every head stays, with the tree's
right edge at its size: what remains still verifies from that head onwards, and a
witness holding an older head can still be checked against the kept heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from haechi.storage.tables import audit_events, audit_leaves, audit_prune_permits, tree_heads

__all__ = ["PruneResult", "prune_log"]


@dataclass(frozen=True)
class PruneResult:
    """What a prune removed."""

    boundary: int
    events_removed: int


def prune_log(connection: Connection, *, cutoff: datetime) -> PruneResult:
    """Remove sealed events and leaves below the newest head signed before ``cutoff``.

    The caller seals a new head in the same transaction: that head signs the new
    boundary, so verification knows the missing prefix was pruned, not deleted.
    """
    # Every event under a head was committed before the head was signed, so a head
    # signed before the cutoff covers only events older than the cutoff.
    boundary = connection.execute(
        select(func.max(tree_heads.c.size)).where(tree_heads.c.signed_at < cutoff)
    ).scalar()
    first = connection.execute(select(func.min(audit_leaves.c.leaf_index))).scalar()
    if not boundary or first is None or int(first) >= int(boundary):
        return PruneResult(int(first or 0), 0)
    boundary = int(boundary)
    top_event = connection.execute(
        select(func.max(audit_leaves.c.event_id)).where(audit_leaves.c.leaf_index < boundary)
    ).scalar()
    assert top_event is not None
    permit = {"upto_event": int(top_event) + 1, "upto_leaf": boundary}
    connection.execute(insert(audit_prune_permits).values(**permit))
    doomed = select(audit_leaves.c.event_id).where(audit_leaves.c.leaf_index < boundary)
    removed = connection.execute(delete(audit_events).where(audit_events.c.id.in_(doomed)))
    connection.execute(delete(audit_leaves).where(audit_leaves.c.leaf_index < boundary))
    connection.execute(
        delete(audit_prune_permits).where(audit_prune_permits.c.upto_event == permit["upto_event"])
    )
    return PruneResult(boundary, int(removed.rowcount or 0))
