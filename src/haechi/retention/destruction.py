"""Destroying a collection by crypto-shredding: the data key goes, then the ciphertexts.

Once the wrapped data key is deleted, no copy of the ciphertexts (a backup, an old
WAL frame, a replica) can be opened again: recoverability no longer depends on when
the database reuses or vacuums the freed pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from haechi.errors import NotFound
from haechi.storage.tables import collections, data_keys, items

__all__ = ["ShredResult", "shred_collection"]


@dataclass(frozen=True)
class ShredResult:
    """What was destroyed: ids and item names, never values."""

    collection_id: str
    subject_id: str
    purpose: str
    item_names: list[str]
    already_destroyed: bool


def shred_collection(connection: Connection, *, collection_id: str, now: datetime) -> ShredResult:
    """Shred the key and delete the items of one collection; keep ids, purpose and dates."""
    row = connection.execute(
        select(collections.c.subject_id, collections.c.purpose, collections.c.state)
        .where(collections.c.id == collection_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("no such collection", field="collection_id")
    names = sorted(
        connection.execute(
            select(items.c.name).where(items.c.collection_id == collection_id)
        ).scalars()
    )
    if row.state == "destroyed":
        return ShredResult(collection_id, row.subject_id, row.purpose, names, True)
    connection.execute(delete(data_keys).where(data_keys.c.collection_id == collection_id))
    connection.execute(delete(items).where(items.c.collection_id == collection_id))
    connection.execute(
        update(collections)
        .where(collections.c.id == collection_id)
        .values(state="destroyed", updated_at=now)
    )
    return ShredResult(collection_id, row.subject_id, row.purpose, names, False)
