"""The answer to an access request: everything held about one person (PIPA Art. 35).

:func:`build_export` gathers, for one subject: each collection with its purpose,
dates, state, holds and its items decrypted (from the separated store for data kept
under a legal hold); the consent history with policy versions; destruction
certificates; the person's own requests; and who accessed their data, for which
purpose and when, from the audit log (by ``ix_audit_events_subject_id_id``, never a
scan). The values are opened for this answer alone: the caller records the export
as audit events and lets the answer go once it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from haechi.access.decision import CollectionState
from haechi.crypto.envelope import Sealer, item_context
from haechi.crypto.epochs import Store
from haechi.crypto.keys import KeyProvider
from haechi.storage.keyring import key_table, open_data_key
from haechi.storage.rights_tables import rights_requests
from haechi.storage.tables import (
    audit_events,
    collections,
    consents,
    destruction_certificates,
    holds,
    items,
    policy_versions,
    separated_items,
)

__all__ = ["MAX_ACCESS_RECORDS", "build_export", "open_items"]

# The newest records of who accessed the data; older ones are counted, not listed.
MAX_ACCESS_RECORDS = 10_000


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def open_items(
    connection: Connection,
    *,
    keys: KeyProvider,
    collection_id: str,
    version: int,
    separated: bool,
    names: Collection[str] | None = None,
) -> dict[str, str]:
    """A collection's items, decrypted (from the separated store if ``separated``).

    With ``names``, only those items are opened.
    """
    store = Store.SEPARATED if separated else Store.MAIN
    table = key_table(store)
    item_table: Table = separated_items if separated else items
    key = connection.execute(
        select(table.c.key_id, table.c.wrapped).where(table.c.collection_id == collection_id)
    ).first()
    if key is None:
        return {}
    sealer = Sealer(
        open_data_key(
            keys,
            store=store,
            key_id=key.key_id,
            wrapped=bytes(key.wrapped),
            collection_id=collection_id,
        )
    )
    query = select(item_table.c.name, item_table.c.sealed).where(
        item_table.c.collection_id == collection_id
    )
    if names is not None:
        query = query.where(item_table.c.name.in_(sorted(names)))
    rows = connection.execute(query)
    return {
        row.name: sealer.open(
            bytes(row.sealed), context=item_context(collection_id, row.name, version=version)
        )
        for row in rows
    }


def _collections(connection: Connection, keys: KeyProvider, subject_id: str) -> list[Any]:
    listed: list[dict[str, Any]] = []
    # Each row is read, then its key, then its items: three statements, each with its
    # own snapshot on PostgreSQL. Locked (shared) until the answer is built, no
    # collection is destroyed, separated, corrected or given again in between, which
    # would answer "active" with no items, or with a key that no longer opens them.
    # Locked in the order corrections and deletions lock them (purpose, id), so the
    # two never wait on each other in a cycle; the sweep skips what is locked.
    rows = sorted(
        connection.execute(
            select(collections)
            .where(collections.c.subject_id == subject_id)
            .order_by(collections.c.purpose, collections.c.id)
            .with_for_update(read=True)
        ).all(),
        key=lambda row: (row.collected_at, row.id),
    )
    held: dict[str, list[dict[str, Any]]] = {}
    if rows:
        for hold in connection.execute(
            select(holds).where(holds.c.collection_id.in_([row.id for row in rows]))
        ):
            held.setdefault(hold.collection_id, []).append(
                {
                    "placed_at": _iso(hold.placed_at),
                    "released_at": _iso(hold.released_at),
                    "reason": hold.reason,
                }
            )
    for row in rows:
        state = CollectionState(row.state)
        values = (
            {}
            if state is CollectionState.DESTROYED
            else open_items(
                connection,
                keys=keys,
                collection_id=row.id,
                version=row.key_version,
                separated=state is CollectionState.SEPARATED,
            )
        )
        listed.append(
            {
                "id": row.id,
                "purpose": row.purpose,
                "state": state.value,
                "collected_at": _iso(row.collected_at),
                "expires_at": _iso(row.expires_at),
                "due_at": _iso(row.due_at),
                "hold_until": _iso(row.hold_until),
                "consented": bool(row.consented),
                "policy_version": row.policy_version,
                "channel": row.channel,
                "holds": held.get(row.id, []),
                "items": dict(sorted(values.items())),
            }
        )
    return listed


def _consents(connection: Connection, subject_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(consents, policy_versions.c.label)
        .join(policy_versions, policy_versions.c.id == consents.c.policy_version)
        .where(consents.c.subject_id == subject_id)
        .order_by(consents.c.recorded_at, consents.c.id)
    )
    return [
        {
            "collection_id": row.collection_id,
            "purpose": row.purpose,
            "granted": bool(row.granted),
            "method": row.method,
            "recorded_at": _iso(row.recorded_at),
            "policy_version": row.policy_version,
            "policy_label": row.label,
        }
        for row in rows
    ]


def _certificates(connection: Connection, subject_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(destruction_certificates)
        .where(destruction_certificates.c.subject_id == subject_id)
        .order_by(destruction_certificates.c.destroyed_at)
    )
    return [
        {
            "id": row.id,
            "collection_id": row.collection_id,
            "purpose": row.purpose,
            "items": json.loads(row.items),
            "method": row.method,
            "reason": row.reason,
            "destroyed_at": _iso(row.destroyed_at),
        }
        for row in rows
    ]


def _accesses(connection: Connection, subject_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(
            audit_events.c.id,
            audit_events.c.occurred_at,
            audit_events.c.actor,
            audit_events.c.actor_kind,
            audit_events.c.action,
            audit_events.c.purpose,
            audit_events.c["items"],
            audit_events.c.outcome,
        )
        .where(audit_events.c.subject_id == subject_id)
        .order_by(audit_events.c.id.desc())
        .limit(MAX_ACCESS_RECORDS)
    )
    return [
        {
            "at": _iso(row.occurred_at),
            "by": row.actor,
            "by_kind": row.actor_kind,
            "action": row.action,
            "purpose": row.purpose,
            "items": json.loads(row.items),
            "outcome": row.outcome,
        }
        for row in rows
    ]


def _requests(connection: Connection, subject_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(rights_requests)
        .where(
            rights_requests.c.subject_id == subject_id, rights_requests.c.verified_at.isnot(None)
        )
        .order_by(rights_requests.c.received_at)
    )
    return [
        {
            "id": row.id,
            "kind": row.kind,
            "state": row.state,
            "received_at": _iso(row.received_at),
            "closed_at": _iso(row.closed_at),
        }
        for row in rows
    ]


def build_export(
    connection: Connection, *, keys: KeyProvider, subject_id: str, now: datetime
) -> dict[str, Any]:
    """Everything held about ``subject_id``, JSON-ready (values included)."""
    held = _collections(connection, keys, subject_id)
    return {
        "format": "haechi-subject-export/1",
        "subject_id": subject_id,
        "generated_at": now.isoformat(),
        "collections": held,
        "consents": _consents(connection, subject_id),
        "holds_and_suspensions": [
            {"collection_id": entry["id"], "purpose": entry["purpose"], "state": entry["state"]}
            for entry in held
            if entry["state"] == CollectionState.SUSPENDED.value
            or any(hold["released_at"] is None for hold in entry["holds"])
        ],
        "destruction_certificates": _certificates(connection, subject_id),
        "requests": _requests(connection, subject_id),
        "accessed_by": _accesses(connection, subject_id),
    }
