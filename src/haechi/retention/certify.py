"""Certifying a sweep's destructions: one batch, a certificate and an event per collection.

Set-based: two INSERT … SELECT and one UPDATE per chunk, whatever its size, so that
certifying costs the database's work and little Python. Every function takes an open
connection and never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    Text,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from haechi.access.decision import CollectionState
from haechi.retention.identifiers import forget_identifiers
from haechi.retention.plan import METHOD
from haechi.storage.tables import (
    audit_events,
    collections,
    destruction_batches,
    destruction_certificates,
    items,
    separated_items,
)
from haechi.storage.types import UtcDateTime

__all__ = ["Batch", "certify"]


@dataclass
class Batch:
    """The sweep's destruction batch: made with its first certificate."""

    id: str | None = None
    destroyed: int = 0


# Why a live collection fell due; the access decision names the same causes
# (haechi.access.decision.due_cause), in the same order.
_LIVE_REASON = case(
    (
        and_(
            collections.c.accomplished_at.isnot(None),
            collections.c.accomplished_at <= collections.c.due_at,
        ),
        "accomplished",
    ),
    (
        and_(
            collections.c.consented.is_(False),
            collections.c.due_at < collections.c.expires_at,
        ),
        "withdrawn",
    ),
    else_="expired",
)


def certify(
    connection: Connection,
    ids: list[str],
    *,
    now: datetime,
    batch: Batch,
    actor: str,
    grace: timedelta,
    separated: bool,
) -> int:
    """Mark ``ids`` destroyed, each with a certificate and an audit event; how many."""
    postgres = connection.dialect.name == "postgresql"
    if batch.id is None:
        batch.id = str(uuid.uuid4())
        connection.execute(
            insert(destruction_batches).values(
                id=batch.id, created_at=now, created_by=actor, destroyed=0
            )
        )
    item_table = separated_items if separated else items
    due = collections.c.hold_until if separated else collections.c.due_at
    late = literal(now - grace, UtcDateTime)
    reason: Any = literal("hold_ended") if separated else _LIVE_REASON
    connection.execute(
        insert(destruction_certificates).from_select(
            [
                "id",
                "batch_id",
                "collection_id",
                "subject_id",
                "purpose",
                "items",
                "method",
                "reason",
                "due_at",
                "destroyed_at",
                "overdue",
            ],
            select(
                _new_id(batch, postgres=postgres),
                literal(batch.id),
                collections.c.id,
                collections.c.subject_id,
                collections.c.purpose,
                _names_json(item_table, postgres=postgres),
                literal(METHOD),
                reason,
                due,
                literal(now, UtcDateTime),
                case((due <= late, True), else_=False),
            ).where(collections.c.id.in_(ids)),
        )
    )
    certificate = destruction_certificates.c
    connection.execute(
        insert(audit_events).from_select(
            [
                "occurred_at",
                "actor",
                "actor_kind",
                "subject_id",
                "collection_id",
                "action",
                "purpose",
                "items",
                "reason",
                "outcome",
                "code",
            ],
            select(
                literal(now, UtcDateTime),
                literal(actor),
                literal("system"),
                certificate.subject_id,
                certificate.collection_id,
                literal("destroy"),
                certificate.purpose,
                certificate["items"],
                certificate.reason + literal("; certificate ") + certificate.id,
                literal("allowed"),
                case((certificate.overdue.is_(True), "OVERDUE"), else_=None),
            ).where(certificate.collection_id.in_(ids)),
        )
    )
    connection.execute(
        update(collections)
        .where(collections.c.id.in_(ids))
        .values(state=CollectionState.DESTROYED.value, updated_at=now)
    )
    forget_identifiers(connection, ids)
    batch.destroyed += len(ids)
    connection.execute(
        update(destruction_batches)
        .where(destruction_batches.c.id == batch.id)
        .values(destroyed=batch.destroyed)
    )
    return len(ids)


def _new_id(batch: Batch, *, postgres: bool) -> Any:
    """Certificate ids made by the database: the batch's prefix and a sequence number.

    Ordered ids append to the certificates' index instead of landing at random.
    """
    assert batch.id is not None
    number = literal(batch.destroyed) + func.row_number().over(order_by=collections.c.id)
    padded = func.lpad(cast(number, Text), 12, "0") if postgres else func.printf("%012d", number)
    return literal(batch.id[:23] + "-") + padded


def _names_json(item_table: Table, *, postgres: bool) -> Any:
    """The sorted item names of the collection, as a JSON list."""
    names: Any
    if postgres:
        names = func.coalesce(
            cast(func.json_agg(aggregate_order_by(item_table.c.name, item_table.c.name)), Text),
            "[]",
        )
    else:
        # Items are clustered by (collection, name): the scan yields names in order.
        names = func.json_group_array(item_table.c.name)
    return select(names).where(item_table.c.collection_id == collections.c.id).scalar_subquery()
