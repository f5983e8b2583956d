"""Destroying one collection by crypto-shredding: the data key goes, then the ciphertexts.

Once the wrapped data key is deleted, the installation can no longer open the
ciphertexts (an old WAL frame, a dead tuple): recoverability no longer depends on when
the database reuses or vacuums the freed pages. Copies taken before (backups) still
hold the wrapped key; its epoch key is marked, and the key job destroys that epoch
key once the backup window has passed (:mod:`haechi.storage.keyring`).

Data separated under a legal hold is kept by a statute, not by its purpose: before
the hold ends nobody destroys it, and afterwards only the hold's own purpose
(``hold:<purpose>``) or the sweep does. Its separated copies go in the same
transaction as the main store's part and the certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from haechi.access.decision import Actor, CollectionState, Reason
from haechi.crypto.epochs import Store
from haechi.errors import NotFound
from haechi.policy.schema import hold_purpose
from haechi.retention.identifiers import forget_identifiers
from haechi.retention.separation import delete_separated
from haechi.storage.keyring import shred_keys
from haechi.storage.tables import collections, items, separated_items

__all__ = ["LEGAL_HOLD", "DestructionTarget", "ShredResult", "lock_target", "refusal", "shred"]

LEGAL_HOLD = "LEGAL_HOLD"
"""The code of a refused destruction of data whose legal hold has not ended."""


@dataclass(frozen=True)
class DestructionTarget:
    """The collection about to be destroyed, locked for the transaction."""

    id: str
    subject_id: str
    purpose: str
    state: CollectionState
    hold_until: datetime | None


@dataclass(frozen=True)
class ShredResult:
    """What was destroyed: ids and item names, never values."""

    collection_id: str
    subject_id: str
    purpose: str
    item_names: list[str]
    already_destroyed: bool
    separated: bool = False


def lock_target(connection: Connection, collection_id: str) -> DestructionTarget:
    """The collection, its row locked until the transaction ends; NotFound if none."""
    row = connection.execute(
        select(
            collections.c.subject_id,
            collections.c.purpose,
            collections.c.state,
            collections.c.hold_until,
        )
        .where(collections.c.id == collection_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("no such collection", field="collection_id")
    return DestructionTarget(
        collection_id, row.subject_id, row.purpose, CollectionState(row.state), row.hold_until
    )


def refusal(target: DestructionTarget, *, actor: Actor, now: datetime) -> tuple[str, str] | None:
    """Why ``actor`` may not destroy ``target`` now (code, message), or None if it may.

    Live data is destroyed for its own purpose; separated data only for its hold's
    purpose, and only once the hold has ended.
    """
    held_for = hold_purpose(target.purpose)
    if target.state is not CollectionState.SEPARATED:
        if actor.may_serve(target.purpose):
            return None
        return Reason.NO_GRANT.value, f"no grant for purpose {target.purpose!r}"
    if not (actor.may_serve(target.purpose) or actor.may_serve(held_for)):
        return Reason.NO_GRANT.value, f"no grant for purpose {target.purpose!r}"
    if target.hold_until is None or now < target.hold_until:
        return LEGAL_HOLD, "the data is kept under a legal hold that has not ended"
    if not actor.may_serve(held_for):
        return Reason.NO_GRANT.value, f"separated data is destroyed for purpose {held_for!r}"
    return None


def shred(connection: Connection, target: DestructionTarget, *, now: datetime) -> ShredResult:
    """Shred the keys and delete the items of ``target`` from both stores; keep ids and dates."""
    separated = target.state is CollectionState.SEPARATED
    names = sorted(
        connection.execute(
            select(separated_items.c.name).where(separated_items.c.collection_id == target.id)
            if separated
            else select(items.c.name).where(items.c.collection_id == target.id)
        ).scalars()
    )
    already = target.state is CollectionState.DESTROYED
    result = ShredResult(target.id, target.subject_id, target.purpose, names, already, separated)
    # A stale copy may sit in the separated store beside live data (a sweep that
    # stopped between its two steps): it goes too.
    delete_separated(connection, [target.id], now=now)
    if already:
        return result
    shred_keys(connection, Store.MAIN, [target.id], now)
    connection.execute(delete(items).where(items.c.collection_id == target.id))
    connection.execute(
        update(collections)
        .where(collections.c.id == target.id)
        .values(state=CollectionState.DESTROYED.value, updated_at=now)
    )
    forget_identifiers(connection, [target.id])
    return result
