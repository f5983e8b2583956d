"""Audit events: one row per access decision and per change, written in the caller's
transaction so that an action and its record commit together or not at all."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from haechi.storage.tables import audit_events

__all__ = ["AuditEvent", "list_events", "record_event"]

_INSERT = insert(audit_events)


@dataclass(frozen=True)
class AuditEvent:
    """One access record: who, when, from where, whose data, what, why, and the outcome."""

    id: str
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


def record_event(
    connection: Connection,
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
) -> str:
    """Append one event; return its id. Item names only: never values."""
    event_id = str(uuid.uuid4())
    connection.execute(
        _INSERT,
        {
            "id": event_id,
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
        },
    )
    return event_id


def list_events(
    connection: Connection, *, subject_id: str | None = None, limit: int = 100
) -> list[AuditEvent]:
    """The newest events, optionally for one subject."""
    query = select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
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
