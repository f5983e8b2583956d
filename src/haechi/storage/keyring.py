"""Data keys under epoch keys: wrapping a new one, opening one, shredding some.

Every path that stores, opens or deletes a collection's data key goes through here,
so that each deletion marks the epoch key that wrapped it (``key_epochs.shred_at``):
the key job then rotates that epoch (its live data keys move to a new epoch key) and
destroys the old epoch key once the backup window has passed, which is what makes
the shredded key unreadable in copies of the database taken before (docs/keys.md).

Functions take an open connection and never commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from haechi.crypto.epochs import Store, data_key_context, is_epoch_id, new_epoch_id, period_of
from haechi.crypto.keys import KeyProvider, UnwrapError
from haechi.storage.key_tables import key_epochs
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import data_keys, separated_keys

__all__ = [
    "CurrentEpochs",
    "StaleEpoch",
    "current_epoch",
    "key_table",
    "mark_shredded",
    "open_data_key",
    "shred_keys",
    "wrap_data_key",
]


def key_table(store: Store) -> Table:
    """The table of wrapped data keys of ``store``."""
    return data_keys if store is Store.MAIN else separated_keys


def current_epoch(
    connection: Connection, keys: KeyProvider, *, store: Store, deadline: datetime, now: datetime
) -> str:
    """The id of the current epoch key for ``deadline``'s period, created if there is none.

    The row is read ``FOR SHARE`` on PostgreSQL: the key job retires or destroys an
    epoch with a row lock, so it waits until a transaction wrapping under the epoch
    has committed its data key, and then sees it.
    """
    start, end = period_of(deadline)
    query = (
        select(key_epochs.c.id)
        .where(
            key_epochs.c.store == store.value,
            key_epochs.c.period_start == start,
            key_epochs.c.retired_at.is_(None),
        )
        .with_for_update(read=True)
    )
    found = connection.execute(query).scalar()
    if found is not None:
        return str(found)
    epoch_id = new_epoch_id(store, start)
    try:
        with connection.begin_nested():
            connection.execute(
                insert(key_epochs).values(
                    id=epoch_id,
                    store=store.value,
                    period_start=start,
                    period_end=end,
                    created_at=now,
                )
            )
    except IntegrityError:
        # Another transaction created the period's key first: use that one.
        found = connection.execute(query).scalar()
        if found is None:
            raise
        return str(found)
    keys.create_epoch(epoch_id)
    return epoch_id


class StaleEpoch(Exception):
    """The epoch key a data key was wrapped under was retired before the wrap was stored."""

    def __init__(self, epoch_id: str) -> None:
        super().__init__("the epoch key was retired; wrap again")
        self.epoch_id = epoch_id


# Still the period's current key, and locked against the key job as current_epoch() does.
_STILL_CURRENT = (
    select(key_epochs.c.id)
    .where(key_epochs.c.id == bindparam("epoch_id"), key_epochs.c.retired_at.is_(None))
    .with_for_update(read=True)
)
# Periods are days: a few thousand cover every deadline a policy can set.
_REMEMBERED = 4096
# An id is asked for again after this long, so that one retired (and, once the backup
# window has passed, destroyed) by another process is not tried for long.
_TRUSTED_SECONDS = 60.0


class CurrentEpochs:
    """The current epoch key of each period, remembered so that wrapping needs no transaction.

    A data key can then be wrapped before the transaction that stores it opens (SQLite
    has one write lock; it is held only for the statements). The id remembered may
    have been retired since, by this process or another: :meth:`check` confirms it in
    the storing transaction, with the same share lock as :func:`current_epoch`, and
    raises :class:`StaleEpoch` otherwise; the caller then forgets it
    (:meth:`forget`) and wraps again.
    """

    def __init__(self, database: Engine, keys: KeyProvider):
        self._database = database
        self._keys = keys
        self._known: dict[tuple[Store, datetime], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._check = PreparedStatement(_STILL_CURRENT, database.dialect)

    def epoch_for(self, *, store: Store, deadline: datetime, now: datetime) -> str:
        """The id of the current epoch key for ``deadline``'s period (created if none)."""
        period = (store, period_of(deadline)[0])
        known = self._known.get(period)
        if known is not None and time.monotonic() - known[1] < _TRUSTED_SECONDS:
            return known[0]
        # Its own short transaction: creating the period's key is rare (once a day).
        with self._database.begin() as connection:
            found = current_epoch(connection, self._keys, store=store, deadline=deadline, now=now)
        with self._lock:
            if len(self._known) >= _REMEMBERED:
                self._known.clear()
            self._known[period] = (found, time.monotonic())
        return found

    def wrap(
        self,
        *,
        store: Store,
        collection_id: str,
        deadline: datetime,
        now: datetime,
        data_key: bytes,
    ) -> tuple[str, bytes]:
        """The epoch id for ``deadline`` and ``data_key`` wrapped under it, for ``collection_id``.

        An epoch key the provider no longer holds (destroyed since it was remembered) is
        forgotten and the period's current one asked for once more.
        """
        context = data_key_context(store, collection_id)
        epoch_id = self.epoch_for(store=store, deadline=deadline, now=now)
        try:
            return epoch_id, self._keys.wrap_epoch(epoch_id, data_key, context=context)
        except UnwrapError:
            self.forget(epoch_id)
        epoch_id = self.epoch_for(store=store, deadline=deadline, now=now)
        return epoch_id, self._keys.wrap_epoch(epoch_id, data_key, context=context)

    def check(self, cursor: Any, epoch_id: str) -> None:
        """Raise :class:`StaleEpoch` unless ``epoch_id`` is current (on the storing cursor)."""
        if not self._check.fetch(cursor, {"epoch_id": epoch_id}):
            raise StaleEpoch(epoch_id)

    def forget(self, epoch_id: str) -> None:
        """Stop using ``epoch_id``: the next wrap for its period asks the database."""
        with self._lock:
            for period in [p for p, known in self._known.items() if known[0] == epoch_id]:
                del self._known[period]


def wrap_data_key(
    connection: Connection,
    keys: KeyProvider,
    *,
    store: Store,
    collection_id: str,
    deadline: datetime,
    now: datetime,
    data_key: bytes,
) -> dict[str, object]:
    """The ``key_id`` and ``wrapped`` of a data key under its period's current epoch key."""
    epoch_id = current_epoch(connection, keys, store=store, deadline=deadline, now=now)
    wrapped = keys.wrap_epoch(epoch_id, data_key, context=data_key_context(store, collection_id))
    return {"collection_id": collection_id, "key_id": epoch_id, "wrapped": wrapped}


def open_data_key(
    keys: KeyProvider, *, store: Store, key_id: str, wrapped: bytes, collection_id: str
) -> bytes:
    """Unwrap a collection's data key, under its epoch key or (from before epochs) the master."""
    if is_epoch_id(key_id):
        return keys.unwrap_epoch(key_id, wrapped, context=data_key_context(store, collection_id))
    return keys.unwrap(wrapped, context=collection_id.encode())


def mark_shredded(connection: Connection, table: Table, ids: Sequence[str], now: datetime) -> None:
    """Stamp the epochs wrapping the data keys of ``ids`` as shredded from ``now`` (first only).

    Only an epoch not stamped yet is updated, so the row is locked once per epoch
    key's life, not once per destruction.
    """
    if not ids:
        return
    wrapping = (
        select(table.c.key_id).where(table.c.collection_id.in_(list(ids))).distinct()
    ).scalar_subquery()
    connection.execute(
        update(key_epochs)
        .where(key_epochs.c.id.in_(wrapping), key_epochs.c.shred_at.is_(None))
        .values(shred_at=now)
    )


def shred_keys(connection: Connection, store: Store, ids: Sequence[str], now: datetime) -> None:
    """Delete the data keys of ``ids`` in ``store``, marking their epochs first."""
    if not ids:
        return
    table = key_table(store)
    mark_shredded(connection, table, ids, now)
    connection.execute(delete(table).where(table.c.collection_id.in_(list(ids))))
