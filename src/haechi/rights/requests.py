"""Requests as rows: creating them, reading them, moving them from state to state.

Every function takes the caller's connection and never commits. State changes are
conditional updates (``WHERE state IN …``), so two handlers acting on one request at
once cannot both move it: the second finds the state changed and gets a Conflict.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from haechi.crypto.keys import KeyProvider
from haechi.errors import Conflict, NotFound
from haechi.rights import documents
from haechi.rights.models import RequestInfo, RequestRules, State, StepRecord
from haechi.storage.rights_tables import rights_request_events, rights_requests
from haechi.storage.tables import audit_events

__all__ = [
    "MAX_LISTED",
    "by_token",
    "create",
    "history",
    "info",
    "list_rows",
    "load",
    "move",
    "record_step",
]

MAX_LISTED = 500


def create(
    connection: Connection,
    *,
    keys: KeyProvider,
    rules: RequestRules,
    kind: str,
    channel: str,
    requester: str,
    subject_id: str | None,
    contact_kind: str | None,
    contact_digest: bytes | None,
    purposes: Iterable[str],
    lang: str,
    token_hash: str | None,
    response_days: int,
    created_by: str,
    now: datetime,
) -> str:
    """Store a new request (state received) and its data key; return its id."""
    request_id = str(uuid.uuid4())
    due = now + timedelta(days=response_days)
    connection.execute(
        insert(rights_requests).values(
            id=request_id,
            kind=kind,
            channel=channel,
            state=State.RECEIVED.value,
            requester=requester,
            subject_id=subject_id,
            contact_kind=contact_kind,
            contact_digest=contact_digest,
            purposes=json.dumps(sorted(set(purposes))),
            lang=lang,
            status_token_hash=token_hash,
            received_at=now,
            original_due_at=due,
            due_at=due,
            retain_until=now + rules.unverified_retention,
            created_by=created_by,
        )
    )
    documents.create_key(connection, keys=keys, request_id=request_id)
    return request_id


def load(connection: Connection, request_id: str, *, lock: bool = False) -> Row[Any]:
    """The request's row (locked for the transaction with ``lock``); NotFound if none."""
    query = select(rights_requests).where(
        rights_requests.c.id == request_id, rights_requests.c.purged_at.is_(None)
    )
    row = connection.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("no such request", field="request_id", code="REQUEST_NOT_FOUND")
    return row


def by_token(connection: Connection, request_id: str, token_hash: str) -> Row[Any]:
    """The request the status token belongs to; the same NotFound for a wrong id or token."""
    row = connection.execute(
        select(rights_requests)
        .where(
            rights_requests.c.id == request_id,
            rights_requests.c.status_token_hash == token_hash,
            rights_requests.c.purged_at.is_(None),
        )
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("no such request", field="request_id", code="REQUEST_NOT_FOUND")
    return row


def move(
    connection: Connection,
    request_id: str,
    *,
    to: State,
    allowed_from: Collection[State],
    **values: Any,
) -> None:
    """Move a request to ``to`` if it is in one of ``allowed_from``; Conflict otherwise."""
    result = connection.execute(
        update(rights_requests)
        .where(
            rights_requests.c.id == request_id,
            rights_requests.c.state.in_([state.value for state in allowed_from]),
        )
        .values(state=to.value, **values)
    )
    if result.rowcount == 0:
        current = load(connection, request_id).state
        raise Conflict(
            f"a request that is {current} cannot become {to.value}",
            field="state",
            code="REQUEST_STATE",
        )


def record_step(connection: Connection, *, request_id: str, step: str, event_id: int) -> None:
    """Link a step's audit event to the request, for its history."""
    connection.execute(
        insert(rights_request_events).values(request_id=request_id, event_id=event_id, step=step)
    )


def history(connection: Connection, request_id: str) -> list[StepRecord]:
    """The request's steps, oldest first, from their audit events."""
    rows = connection.execute(
        select(
            rights_request_events.c.event_id,
            rights_request_events.c.step,
            audit_events.c.occurred_at,
            audit_events.c.actor,
            audit_events.c.outcome,
            audit_events.c.code,
        )
        .join(audit_events, audit_events.c.id == rights_request_events.c.event_id)
        .where(rights_request_events.c.request_id == request_id)
        .order_by(rights_request_events.c.event_id)
    )
    return [
        StepRecord(
            event_id=int(row.event_id),
            step=row.step,
            occurred_at=row.occurred_at,
            actor=row.actor,
            outcome=row.outcome,
            code=row.code,
        )
        for row in rows
    ]


def purposes_of(row: Row[Any]) -> list[str]:
    """The purposes a request concerns."""
    return list(json.loads(row.purposes))


def info(connection: Connection, row: Row[Any], *, detailed: bool = False) -> RequestInfo:
    """The staff view of a request; with ``detailed``, its documents and history too."""
    return RequestInfo(
        id=row.id,
        kind=row.kind,
        channel=row.channel,
        state=row.state,
        requester=row.requester,
        subject_id=row.subject_id,
        purposes=purposes_of(row),
        lang=row.lang,
        verification_method=row.verification_method,
        verified_at=row.verified_at,
        received_at=row.received_at,
        original_due_at=row.original_due_at,
        due_at=row.due_at,
        postponed_at=row.postponed_at,
        postpone_reason=row.postpone_reason,
        refusal_reason=row.refusal_reason,
        refusal_until=row.refusal_until,
        started_at=row.started_at,
        closed_at=row.closed_at,
        outcome=json.loads(row.outcome) if row.outcome else None,
        delivery=row.delivery,
        delivered_at=row.delivered_at,
        documents=documents.listing(connection, row.id) if detailed else [],
        history=history(connection, row.id) if detailed else [],
    )


def list_rows(
    connection: Connection,
    *,
    state: str | None,
    kind: str | None,
    due_before: datetime | None,
    limit: int,
    offset: int = 0,
) -> list[Row[Any]]:
    """Requests by due date, filtered; at most ``limit`` (itself at most MAX_LISTED)."""
    query = (
        select(rights_requests)
        .where(rights_requests.c.purged_at.is_(None))
        .order_by(rights_requests.c.due_at, rights_requests.c.id)
        .limit(min(limit, MAX_LISTED))
        .offset(offset)
    )
    if state is not None:
        query = query.where(rights_requests.c.state == state)
    if kind is not None:
        query = query.where(rights_requests.c.kind == kind)
    if due_before is not None:
        query = query.where(rights_requests.c.due_at < due_before)
    return list(connection.execute(query))
