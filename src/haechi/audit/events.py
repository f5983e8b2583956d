"""Audit events: one row per access decision and per change.

Events are written in the caller's transaction, so that an action and its record
commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.engine import Dialect

from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import audit_events

__all__ = ["AuditEvent", "event_values", "list_events", "prepared_insert", "record_event"]

_INSERT = insert(audit_events)


@dataclass(frozen=True)
class AuditEvent:
    """One access record: who, when, from where, whose data, what, why, and the outcome."""

    id: int
    occurred_at: datetime
    actor: str
    actor_kind: str
    source_ip: str | None
    subject_id: str | None
    collection_id: str | None
    action: str
    purpose: str | None
    items: list[str]
    reason: str | None
    outcome: str
    code: str | None


def event_values(
    *,
    now: datetime,
    actor: str,
    actor_kind: str,
    action: str,
    outcome: str = "allowed",
    code: str | None = None,
    subject_id: str | None = None,
    collection_id: str | None = None,
    purpose: str | None = None,
    items: Iterable[str] = (),
    reason: str | None = None,
    source_ip: str | None = None,
) -> dict[str, Any]:
    """The row of one event. Item names only: never values."""
    return {
        "occurred_at": now,
        "actor": actor,
        "actor_kind": actor_kind,
        "source_ip": source_ip,
        "subject_id": subject_id,
        "collection_id": collection_id,
        "action": action,
        "purpose": purpose,
        "items": json.dumps(sorted(items)),
        "reason": reason,
        "outcome": outcome,
        "code": code,
    }


def record_event(connection: Connection, **event: Any) -> int:
    """Append one event (see :func:`event_values` for the fields); return its id."""
    result = connection.execute(_INSERT, event_values(**event))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def prepared_insert(dialect: Dialect) -> PreparedStatement:
    """The event insert compiled for ``dialect``, for the hot path."""
    # The id comes from the database, and so does logged_at (its own clock).
    columns = [c for c in audit_events.columns if c.name not in ("id", "logged_at")]
    statement = (
        insert(audit_events)
        .values({c.name: bindparam(c.name) for c in columns})
        .returning(audit_events.c.id)
    )
    return PreparedStatement(statement, dialect)


def list_events(
    connection: Connection, *, subject_id: str | None = None, limit: int = 100
) -> list[AuditEvent]:
    """The newest events, optionally for one subject."""
    query = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
    if subject_id is not None:
        query = query.where(audit_events.c.subject_id == subject_id)
    return [
        AuditEvent(
            id=row.id,
            occurred_at=row.occurred_at,
            actor=row.actor,
            actor_kind=row.actor_kind,
            source_ip=row.source_ip,
            subject_id=row.subject_id,
            collection_id=row.collection_id,
            action=row.action,
            purpose=row.purpose,
            items=json.loads(row.items),
            reason=row.reason,
            outcome=row.outcome,
            code=row.code,
        )
        for row in connection.execute(query)
    ]
