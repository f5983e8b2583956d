"""The re-wrap steps of the key job: data keys move to their period's current epoch key.

Data keys from before epochs (under the master key) are upgraded to epochs; every
current epoch marked shredded is retired, and the data keys of retired epochs move
to a new epoch key a chunk at a time. Only data keys are re-wrapped, never the item
ciphertexts. A data key is updated by a conditional UPDATE naming its old epoch, after
the new epoch key is stored and its row committed, in a transaction that checks under
a share lock that the new key is not destroyed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, not_, select, update

from haechi.crypto.epochs import (
    EPOCH_PREFIX,
    Store,
    data_key_context,
    epoch_day,
    is_epoch_id,
    period_of,
)
from haechi.retention.key_base import KeyJobBase
from haechi.retention.key_models import MASTER_STORE, Progress
from haechi.storage.key_tables import key_epochs
from haechi.storage.keyring import current_epoch, key_table
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import collections

__all__ = ["Rotation"]

log = logging.getLogger("haechi.keys")


class Rotation(KeyJobBase):
    """Adopt lost epochs, upgrade legacy data keys, retire shredded epochs, move their keys."""

    def _adopt_orphans(self, now: datetime) -> None:
        """Give a row to an epoch that data keys name but ``key_epochs`` lacks.

        On SQLite a commit over the main and separated files is not atomic across
        them: a crash can keep a separated data key whose new epoch's row was lost.
        Its period is in its id; adopted, it is rotated and destroyed like any other.
        """
        with self.database.connect() as connection:
            orphans = {
                (store, key_id)
                for store in Store
                for key_id in connection.execute(
                    select(key_table(store).c.key_id)
                    .where(
                        key_table(store).c.key_id.like(f"{EPOCH_PREFIX}%"),
                        key_table(store).c.key_id.not_in(select(key_epochs.c.id)),
                    )
                    .distinct()
                ).scalars()
            }
        if not orphans:
            return
        with self.database.begin() as connection:
            for store, key_id in sorted(orphans):
                start, end = period_of(epoch_day(key_id) or now)
                log.warning("adopting epoch key %s that had no row", key_id)
                connection.execute(
                    insert(key_epochs).values(
                        id=key_id,
                        store=store.value,
                        period_start=start,
                        period_end=end,
                        created_at=now,
                        retired_at=now,
                        shred_at=now,
                    )
                )

    def _upgrade(self, now: datetime, progress: Progress | None) -> int:
        """Re-wrap data keys still under the master key under their epochs."""
        done = 0
        for store in Store:
            table = key_table(store)
            deadline = (
                func.coalesce(collections.c.due_at, collections.c.expires_at)
                if store is Store.MAIN
                else func.coalesce(collections.c.hold_until, collections.c.due_at)
            )
            legacy = not_(table.c.key_id.like(f"{EPOCH_PREFIX}%"))
            query = (
                select(
                    table.c.collection_id,
                    table.c.key_id,
                    table.c.wrapped,
                    deadline.label("deadline"),
                )
                .select_from(table.join(collections, collections.c.id == table.c.collection_id))
                .where(legacy)
                .limit(self.chunk_size)
            )
            while rows := self._read(query):
                self._rewrap(store, rows, now)
                done += len(rows)
                if progress:
                    progress(f"upgrade {store.value}", done, done)
        return done

    def _rewrap(
        self,
        store: Store,
        rows: Sequence[Any],
        now: datetime,
        *,
        deadline: datetime | None = None,
    ) -> None:
        """Wrap each data key under the current epoch of ``deadline`` (else its own row's).

        Three steps, so that no lock is held while keys are unwrapped and wrapped (the
        slow part): the target epochs are found (or created) in a short transaction;
        the keys are re-wrapped outside any; the conditional UPDATEs go in a short
        write transaction that first checks, under a share lock, that no target epoch
        was destroyed in between. ``use()`` needs SQLite's write lock for its audit
        event, and gets it between chunks (docs/benchmarks.md, "Key epochs").
        """
        table = key_table(store)
        deadlines = {deadline if deadline is not None else row.deadline for row in rows}
        epochs: dict[datetime, str] = {}
        with self.database.begin() as connection:
            by_start: dict[datetime, str] = {}
            for when in deadlines:
                start = period_of(when)[0]
                if start not in by_start:
                    by_start[start] = current_epoch(
                        connection, self.keys, store=store, deadline=when, now=now
                    )
                epochs[when] = by_start[start]
        prefix = data_key_context(store, "")
        changes = []
        for row in rows:
            target = epochs[deadline if deadline is not None else row.deadline]
            collection_id = row.collection_id
            context = prefix + collection_id.encode()
            if is_epoch_id(row.key_id):
                data_key = self.keys.unwrap_epoch(row.key_id, bytes(row.wrapped), context=context)
            else:
                data_key = self.keys.unwrap(bytes(row.wrapped), context=collection_id.encode())
            changes.append(
                (
                    collection_id,
                    row.key_id,
                    target,
                    self.keys.wrap_epoch(target, data_key, context=context),
                )
            )
        self._step("wrapped")
        targets = set(epochs.values())
        with self.database.begin() as connection:
            alive = set(
                connection.execute(
                    select(key_epochs.c.id)
                    .where(key_epochs.c.id.in_(targets), key_epochs.c.destroyed_at.is_(None))
                    .with_for_update(read=True)
                ).scalars()
            )
            if alive == targets:  # else the next read finds these rows again
                self._update_keys(connection, table, changes)

    def _update_keys(
        self, connection: Connection, table: Table, changes: list[tuple[str, str, str, bytes]]
    ) -> None:
        """The conditional UPDATEs of a chunk, compiled once, run on the DBAPI cursor.

        A chunk is thousands of rows: Core's per-row parameter processing measured
        more than the database's own work (docs/benchmarks.md).
        """
        prepared = self._prepared.get(table.name)
        if prepared is None:
            prepared = PreparedStatement(_conditional_update(table), self.database.dialect)
            self._prepared[table.name] = prepared
        parameters: list[Any] = [
            prepared.parameters({"b_id": cid, "b_old": old, "b_new": new, "b_wrapped": wrapped})
            for cid, old, new, wrapped in changes
        ]
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(prepared.sql, parameters)
        finally:
            cursor.close()

    def _retire_shredded(self, now: datetime) -> list[str]:
        """Retire every current epoch that wrapped a shredded data key."""
        with self.database.begin() as connection:
            ids = list(
                connection.execute(
                    select(key_epochs.c.id)
                    .where(
                        key_epochs.c.retired_at.is_(None),
                        key_epochs.c.destroyed_at.is_(None),
                        key_epochs.c.shred_at.is_not(None),
                    )
                    .with_for_update()
                ).scalars()
            )
            if ids:
                connection.execute(
                    update(key_epochs)
                    .where(key_epochs.c.id.in_(ids), key_epochs.c.retired_at.is_(None))
                    .values(retired_at=now)
                )
        return ids

    def _move_retired(self, now: datetime, progress: Progress | None) -> int:
        """Move the data keys of retired epochs to their period's current epoch key."""
        with self.database.connect() as connection:
            retired = connection.execute(
                select(key_epochs.c.id, key_epochs.c.store, key_epochs.c.period_start).where(
                    key_epochs.c.retired_at.is_not(None),
                    key_epochs.c.destroyed_at.is_(None),
                    key_epochs.c.store != MASTER_STORE,
                )
            ).all()
            totals = {}
            for epoch in retired:
                table = key_table(Store(epoch.store))
                totals[epoch.id] = connection.execute(
                    select(func.count()).where(table.c.key_id == epoch.id)
                ).scalar_one()
        total = sum(totals.values())
        moved = 0
        for epoch in retired:
            if not totals[epoch.id]:
                continue
            store = Store(epoch.store)
            table = key_table(store)
            query = (
                select(table.c.collection_id, table.c.key_id, table.c.wrapped)
                .where(table.c.key_id == epoch.id)
                .limit(self.chunk_size)
            )
            while rows := self._read(query):
                self._rewrap(store, rows, now, deadline=epoch.period_start)
                moved += len(rows)
                if progress:
                    progress("rotate", moved, total)
        return moved


def _conditional_update(table: Any) -> Any:
    """UPDATE one data key to a new epoch, only if it is still under the old one."""
    return (
        update(table)
        .where(table.c.collection_id == bindparam("b_id"), table.c.key_id == bindparam("b_old"))
        .values(key_id=bindparam("b_new"), wrapped=bindparam("b_wrapped"))
    )
