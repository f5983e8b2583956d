"""The separated store: data a statute keeps after its purpose's clock has ended.

A due collection of a purpose with a legal hold is copied, still sealed, to the
separated store (a schema of its own on PostgreSQL, the attached ``separated.db`` on
SQLite); then the main store lets go of it. Every function takes an open connection
and never commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update

from haechi.access.decision import CollectionState
from haechi.audit.events import event_values
from haechi.crypto.epochs import Store
from haechi.crypto.keys import KeyProvider
from haechi.policy.schema import Policy
from haechi.retention.plan import LIVE_STATES
from haechi.storage.keyring import open_data_key, shred_keys, wrap_data_key
from haechi.storage.tables import (
    audit_events,
    collections,
    data_keys,
    items,
    separated_items,
    separated_keys,
)

__all__ = [
    "copy_to_separated",
    "delete_separated",
    "hold_until",
    "item_names",
    "let_go",
    "purge_separated",
]

_INSERT_EVENTS = insert(audit_events)
_SET_HOLD = (
    update(collections)
    .where(collections.c.id == bindparam("b_id"))
    .values(
        state=CollectionState.SEPARATED.value,
        hold_until=bindparam("b_hold_until"),
        updated_at=bindparam("b_now"),
    )
)


def item_names(connection: Connection, table: Any, ids: list[str]) -> dict[str, list[str]]:
    """The sorted item names of each collection in ``ids``, from ``table``."""
    names: dict[str, list[str]] = {}
    for collection_id, name in connection.execute(
        select(table.c.collection_id, table.c.name).where(table.c.collection_id.in_(ids))
    ):
        names.setdefault(collection_id, []).append(name)
    for value in names.values():
        value.sort()
    return names


def hold_until(policy: Policy, row: Row[Any]) -> datetime:
    """When the legal hold of a due collection (its ``purpose`` and ``due_at``) ends."""
    hold = policy.purposes[row.purpose].legal_hold
    assert hold is not None
    return hold.retention_period.after(row.due_at)


def copy_to_separated(
    connection: Connection,
    rows: list[Row[Any]],
    *,
    keys: KeyProvider,
    policy: Policy,
    now: datetime,
) -> None:
    """Copy the sealed items of ``rows`` to the separated store, their keys re-wrapped (redoable).

    The separated store has its own key hierarchy: each data key is unwrapped from
    its main-store epoch and wrapped again under the separated store's epoch key of
    the hold's end, so no key of the main store opens held data, nor the reverse.
    ``rows`` carry id, purpose and due_at.
    """
    ids = [row.id for row in rows]
    delete_separated(connection, ids, now=now)
    wrapped = {
        key.collection_id: key
        for key in connection.execute(
            select(data_keys.c.collection_id, data_keys.c.key_id, data_keys.c.wrapped).where(
                data_keys.c.collection_id.in_(ids)
            )
        )
    }
    copies = []
    for row in rows:
        key = wrapped.get(row.id)
        if key is None:
            continue
        data_key = open_data_key(
            keys,
            store=Store.MAIN,
            key_id=key.key_id,
            wrapped=bytes(key.wrapped),
            collection_id=row.id,
        )
        copies.append(
            wrap_data_key(
                connection,
                keys,
                store=Store.SEPARATED,
                collection_id=row.id,
                deadline=hold_until(policy, row),
                now=now,
                data_key=data_key,
            )
        )
    if copies:
        connection.execute(insert(separated_keys), copies)
    connection.execute(
        insert(separated_items).from_select(
            ["collection_id", "name", "sealed"],
            select(items.c.collection_id, items.c.name, items.c.sealed).where(
                items.c.collection_id.in_(ids)
            ),
        )
    )


def let_go(
    connection: Connection, rows: list[Row[Any]], *, policy: Policy, now: datetime, actor: str
) -> int:
    """Delete the main copy of collections now in the separated store; how many were let go.

    ``rows`` (id, purpose, due_at, updated_at) are what the sweep claimed before it
    copied them. Each is re-read here, in the transaction that deletes: a collection
    given again in between (a new due date, new values) or otherwise changed is kept
    live, and its now stale copy leaves the separated store. On PostgreSQL the rows are
    still locked by the claim, so nothing can change them in between.
    """
    claimed = {row.id: row for row in rows}
    fresh = connection.execute(
        select(
            collections.c.id, collections.c.state, collections.c.due_at, collections.c.updated_at
        ).where(collections.c.id.in_(list(claimed)))
    ).all()
    unchanged: list[Row[Any]] = []
    stale: list[str] = []
    for now_row in fresh:
        if now_row.state not in LIVE_STATES:
            continue  # separated by another sweeper, or destroyed: its copy is not ours
        then = claimed[now_row.id]
        if now_row.due_at <= now and (now_row.due_at, now_row.updated_at) == (
            then.due_at,
            then.updated_at,
        ):
            unchanged.append(then)
        else:
            stale.append(now_row.id)
    if stale:
        delete_separated(connection, stale, now=now)
    if not unchanged:
        return 0
    ids = [row.id for row in unchanged]
    names = item_names(connection, items, ids)
    # The main store's wrapped keys go as if destroyed: copies taken before must not
    # keep opening the data with main-store keys once the backup window has passed.
    shred_keys(connection, Store.MAIN, ids, now)
    connection.execute(delete(items).where(items.c.collection_id.in_(ids)))
    until = {row.id: hold_until(policy, row) for row in unchanged}
    connection.execute(
        _SET_HOLD,
        [{"b_id": row.id, "b_hold_until": until[row.id], "b_now": now} for row in unchanged],
    )
    connection.execute(
        _INSERT_EVENTS,
        [
            event_values(
                now=now,
                actor=actor,
                actor_kind="system",
                action="separate",
                collection_id=row.id,
                purpose=row.purpose,
                items=names.get(row.id, []),
                reason=f"legal hold until {until[row.id].date().isoformat()}",
            )
            for row in unchanged
        ],
    )
    return len(unchanged)


def purge_separated(connection: Connection, *, now: datetime) -> None:
    """Delete separated rows of destroyed collections.

    On SQLite a transaction over both files is atomic in each file but not across
    them (WAL mode): a crash inside the COMMIT of a destruction can leave the main
    store's part committed without the separated store's. This finishes it. Driven
    by the separated store, which is small: each of its collections is looked up by
    key, rather than scanning every destroyed collection.
    """
    destroyed = collections.c.state == CollectionState.DESTROYED.value
    orphans: set[str] = set()
    for table in (separated_keys, separated_items):
        orphans.update(
            connection.execute(
                select(table.c.collection_id)
                .select_from(table.join(collections, collections.c.id == table.c.collection_id))
                .where(destroyed)
                .distinct()
            ).scalars()
        )
    if orphans:
        delete_separated(connection, sorted(orphans), now=now)


def delete_separated(connection: Connection, ids: list[str], *, now: datetime) -> None:
    """Delete the separated copies (key first, its epoch marked, then items) of ``ids``."""
    shred_keys(connection, Store.SEPARATED, ids, now)
    connection.execute(delete(separated_items).where(separated_items.c.collection_id.in_(ids)))
