"""Complaints (민원): intake, a sealed thread, assignment, the result and its delivery.

A complaint hangs on one collection under the ``complaints`` purpose, which holds
the petitioner's name and contact (collected through the normal, consent-checked
path). This module holds the complaint's metadata, its queries and its mail; the
sealed thread is in :mod:`haechi.rights.complaints_thread`.

Every function takes an open connection and never commits; messages never reach an
exception message, a log line or an audit event.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol

from sqlalchemy import Connection, func, insert, select, update

from haechi.access.grants import account, held_purposes
from haechi.access.roles import Role
from haechi.errors import Conflict, InvalidInput, NotFound
from haechi.storage.complaints_tables import complaints
from haechi.storage.tables import collections

__all__ = [
    "DELIVERIES",
    "INTAKE_PER_SOURCE_PER_HOUR",
    "MAX_MESSAGE",
    "PURPOSE",
    "VERIFICATIONS",
    "ComplaintInfo",
    "ComplaintState",
    "Intake",
    "IntakeLimited",
    "MessageKind",
    "MessageSender",
    "ThreadMessage",
    "assignable",
    "decoy_intake",
    "get_complaint",
    "intakes_since",
    "list_complaints",
    "message_problem",
    "open_complaint",
    "result_message",
    "set_fields",
    "token_matches",
]

PURPOSE = "complaints"
MAX_MESSAGE = 4000
"""Characters in one message of a thread (a petition, a reply, a result)."""
INTAKE_PER_SOURCE_PER_HOUR = 10
"""Public intakes accepted from one source address in an hour."""
DELIVERIES = frozenset({"mail", "post", "phone", "fax", "in_person"})
VERIFICATIONS = frozenset({"phone", "document", "in_person", "reply_mail"})
_TOKEN_PREFIX = "hcc_"  # noqa: S105 (a prefix, not a secret)


class ComplaintState(StrEnum):
    """Life of a complaint: received → assigned → closed."""

    RECEIVED = "received"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class MessageKind(StrEnum):
    """What a message of the thread is."""

    PETITION = "petition"
    REPLY = "reply"
    NOTE = "note"
    RESULT = "result"


class IntakeLimited(Conflict):
    """Too many public intakes from one source address within the hour."""

    code = "RATE_LIMITED"


class MessageSender(Protocol):
    """Something that delivers a mail (``haechi.mail.SmtpNotifier`` is one)."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message``."""


@dataclass(frozen=True)
class Intake:
    """A received complaint: its id and the secret that lets its petitioner follow it."""

    complaint_id: str
    status_token: str


@dataclass(frozen=True)
class ComplaintInfo:
    """A complaint's metadata: ids, state, dates and people, never its text."""

    id: str
    collection_id: str
    subject_id: str
    state: ComplaintState
    channel: str
    received_at: datetime
    updated_at: datetime
    assigned_to: str | None
    assigned_at: datetime | None
    contact_verified: str | None
    closed_at: datetime | None
    delivery: str | None
    delivered_at: datetime | None
    collection_state: str


@dataclass(frozen=True)
class ThreadMessage:
    """One message; ``text`` is None for a reader without the right, or once shredded."""

    seq: int
    kind: str
    author: str
    written_at: datetime
    text: str | None


def message_problem(text: object, *, field: str) -> InvalidInput | None:
    """What is wrong with a message of the thread, if anything (never quoting it)."""
    if not isinstance(text, str) or not text.strip():
        return InvalidInput(f"{field} must be a non-empty text", field=field, code="EMPTY")
    if len(text) > MAX_MESSAGE:
        return InvalidInput(
            f"{field} has at most {MAX_MESSAGE} characters", field=field, code="TOO_LONG"
        )
    if "\x00" in text:
        return InvalidInput(f"{field} contains a NUL character", field=field, code="INVALID_TEXT")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return InvalidInput(f"{field} is not valid Unicode", field=field, code="INVALID_TEXT")
    return None


def decoy_intake() -> Intake:
    """An answer shaped like :func:`open_complaint`'s that leads to no complaint."""
    return Intake(str(uuid.uuid4()), _TOKEN_PREFIX + secrets.token_urlsafe(24))


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def intakes_since(connection: Connection, *, source: str, since: datetime) -> int:
    """How many complaints came from ``source`` since ``since`` (the rate limit's count)."""
    return int(
        connection.execute(
            select(func.count()).where(
                complaints.c.received_from == source, complaints.c.received_at >= since
            )
        ).scalar_one()
    )


def open_complaint(
    connection: Connection,
    *,
    collection_id: str,
    subject_id: str,
    channel: str,
    received_from: str | None,
    now: datetime,
) -> Intake:
    """Record a complaint on its collection; its thread starts with :func:`start_thread`."""
    complaint_id = str(uuid.uuid4())
    token = _TOKEN_PREFIX + secrets.token_urlsafe(24)
    connection.execute(
        insert(complaints).values(
            id=complaint_id,
            collection_id=collection_id,
            subject_id=subject_id,
            state=ComplaintState.RECEIVED.value,
            channel=channel,
            received_at=now,
            updated_at=now,
            received_from=received_from,
            status_token_hash=_token_digest(token),
        )
    )
    return Intake(complaint_id, token)


_SELECT = select(complaints, collections.c.state.label("collection_state")).join(
    collections, collections.c.id == complaints.c.collection_id
)


def _info(row: object) -> ComplaintInfo:
    values = row._mapping  # type: ignore[attr-defined]
    return ComplaintInfo(
        id=values["id"],
        collection_id=values["collection_id"],
        subject_id=values["subject_id"],
        state=ComplaintState(values["state"]),
        channel=values["channel"],
        received_at=values["received_at"],
        updated_at=values["updated_at"],
        assigned_to=values["assigned_to"],
        assigned_at=values["assigned_at"],
        contact_verified=values["contact_verified"],
        closed_at=values["closed_at"],
        delivery=values["delivery"],
        delivered_at=values["delivered_at"],
        collection_state=values["collection_state"],
    )


def get_complaint(
    connection: Connection, complaint_id: str, *, lock: bool = False
) -> ComplaintInfo:
    """A complaint's metadata (its row locked with ``lock``); NotFound if there is none."""
    query = _SELECT.where(complaints.c.id == complaint_id)
    if lock:
        query = query.with_for_update(of=complaints)
    row = connection.execute(query).first()
    if row is None:
        raise NotFound("no such complaint", field="complaint_id")
    return _info(row)


def list_complaints(
    connection: Connection, *, state: ComplaintState | None = None, limit: int = 100
) -> list[ComplaintInfo]:
    """Complaints, oldest first (the queue's order), optionally in one state."""
    query = _SELECT.order_by(complaints.c.received_at, complaints.c.id).limit(limit)
    if state is not None:
        query = query.where(complaints.c.state == state.value)
    return [_info(row) for row in connection.execute(query)]


def set_fields(
    connection: Connection, complaint_id: str, *, now: datetime, **values: object
) -> None:
    """Update a complaint's metadata columns (state, assignee, delivery…)."""
    connection.execute(
        update(complaints).where(complaints.c.id == complaint_id).values(updated_at=now, **values)
    )


def assignable(connection: Connection, username: str) -> bool:
    """Whether ``username`` is an active privacy officer or a handler granted complaints."""
    try:
        staff_id, role, disabled_at = account(connection, username)
    except NotFound:
        return False
    if disabled_at is not None:
        return False
    if role == Role.PRIVACY_OFFICER.value:
        return True
    return role == Role.HANDLER.value and PURPOSE in held_purposes(connection, staff_id)


def token_matches(connection: Connection, complaint_id: str, token: str) -> ComplaintInfo | None:
    """The complaint, if ``token`` is its status token; None otherwise (alike for both)."""
    try:
        info = get_complaint(connection, complaint_id)
    except NotFound:
        info = None
    stored = connection.execute(
        select(complaints.c.status_token_hash).where(complaints.c.id == complaint_id)
    ).scalar_one_or_none()
    if info is None or stored is None:
        return None
    return info if hmac.compare_digest(stored, _token_digest(token)) else None


def result_message(
    info: ComplaintInfo, result: str, *, sender: str, recipient: str, contacts: Sequence[str]
) -> EmailMessage:
    """The mail telling a petitioner the result: the complaint id and the result only."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"[민원/Complaint] {info.id}"
    lines = [
        f"민원 {info.id} 처리 결과를 알려 드립니다. / The result of your complaint {info.id}:",
        "",
        result,
        "",
        *contacts,
    ]
    message.set_content("\n".join(lines))
    return message
