"""Complaints (민원): intake, a sealed thread, assignment, the result and its delivery.

A complaint hangs on one collection under the ``complaints`` purpose, which holds
the petitioner's name and contact (collected through the normal, consent-checked
path). This module holds the complaint's metadata, its queries, the intake caps and
what the result mail carries (the mail itself is built and queued by
:mod:`haechi.mail.complaints`); the sealed thread is in
:mod:`haechi.rights.complaints_thread`.

Public intakes are capped per source address and per petitioner email (by the
email's blind index, never the address). The cap's count and the complaint's insert
run in one transaction that, on PostgreSQL, first takes transaction-scoped advisory
locks on the source and on the email: intakes arriving at once cannot all read a count
under the cap and each add a complaint.

Every function takes an open connection and never commits; messages never reach an
exception message, a log line or an audit event.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Connection, func, insert, select, update

from haechi.access.grants import account, held_purposes
from haechi.access.roles import Role
from haechi.errors import Conflict, InvalidInput, NotFound
from haechi.storage.complaints_tables import complaints
from haechi.storage.mail_tables import mail_outbox
from haechi.storage.tables import collections

__all__ = [
    "DELIVERIES",
    "INTAKE_PER_EMAIL_PER_DAY",
    "INTAKE_PER_SOURCE_PER_HOUR",
    "MAIL_KIND",
    "MAX_MESSAGE",
    "PURPOSE",
    "VERIFICATIONS",
    "ComplaintInfo",
    "ComplaintState",
    "Intake",
    "IntakeLimited",
    "MessageKind",
    "ResultHook",
    "ResultMail",
    "ThreadMessage",
    "assignable",
    "decoy_intake",
    "get_complaint",
    "intake_capped",
    "list_complaints",
    "message_problem",
    "open_complaint",
    "result_queued",
    "set_fields",
    "token_matches",
]

PURPOSE = "complaints"
MAX_MESSAGE = 4000
"""Characters in one message of a thread (a petition, a reply, a result)."""
INTAKE_PER_SOURCE_PER_HOUR = 10
"""Public intakes accepted from one source address in an hour."""
INTAKE_PER_EMAIL_PER_DAY = 20
"""Public intakes accepted for one petitioner email (from any source) in a day."""
MAIL_KIND = "complaint_result"
"""The outbox kind of a complaint's result mail (its reference is the complaint id)."""
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
    """Too many public intakes from one source address, or for one email, lately."""

    code = "RATE_LIMITED"


@dataclass(frozen=True)
class ResultMail:
    """A complaint's result to mail to the petitioner's confirmed email."""

    complaint_id: str
    address: str
    result: str


ResultHook = Callable[[Connection, ResultMail], object]
"""Takes a complaint's result mail inside the transaction of the step that makes it (the
surface stores it sealed in the outbox there), so it is stored, or not, with the step."""


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


# Controls a message may not hold, besides NUL: C0 but tab and newlines, DEL, C1, and
# the bidi embeddings, overrides and isolates (as items and forms refuse them).
_CONTROLS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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
    if _CONTROLS.search(text):
        return InvalidInput(
            f"{field} contains a control or bidi override character",
            field=field,
            code="INVALID_TEXT",
        )
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


# The two-key advisory lock space of the intake caps (codes use 0x48430001 and 2).
_SOURCE_LOCK = 0x48430011
_EMAIL_LOCK = 0x48430012


def _lock_caps(connection: Connection, source: str | None, email_digest: bytes | None) -> None:
    """Serialise public intakes per source, then per email (always in that order)."""
    if connection.dialect.name != "postgresql":
        return  # SQLite transactions here begin IMMEDIATE: writers are serialised already.
    keys: list[tuple[int, bytes]] = []
    if source is not None:
        keys.append((_SOURCE_LOCK, hashlib.sha256(source.encode()).digest()))
    if email_digest is not None:
        keys.append((_EMAIL_LOCK, email_digest))
    for lock_class, digest in keys:
        connection.execute(
            select(
                func.pg_advisory_xact_lock(
                    lock_class, int.from_bytes(digest[:4], "big", signed=True)
                )
            )
        )


def _intakes(connection: Connection, condition: ColumnElement[bool], since: datetime) -> int:
    return int(
        connection.execute(
            select(func.count()).where(condition, complaints.c.received_at >= since)
        ).scalar_one()
    )


def intake_capped(
    connection: Connection, *, source: str | None, email_digest: bytes | None, now: datetime
) -> bool:
    """Whether a public intake is past a cap; call in the transaction that then inserts it.

    Locks first (PostgreSQL), so the count holds until that transaction ends.
    """
    _lock_caps(connection, source, email_digest)
    if source is not None and (
        _intakes(connection, complaints.c.received_from == source, now - timedelta(hours=1))
        >= INTAKE_PER_SOURCE_PER_HOUR
    ):
        return True
    return email_digest is not None and (
        _intakes(connection, complaints.c.email_digest == email_digest, now - timedelta(days=1))
        >= INTAKE_PER_EMAIL_PER_DAY
    )


def open_complaint(
    connection: Connection,
    *,
    collection_id: str,
    subject_id: str,
    channel: str,
    received_from: str | None,
    email_digest: bytes | None = None,
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
            email_digest=email_digest,
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


def result_queued(connection: Connection, complaint_id: str) -> bool:
    """Whether the complaint's result mail waits in the outbox, not yet sent."""
    return (
        connection.execute(
            select(mail_outbox.c.id).where(
                mail_outbox.c.kind == MAIL_KIND,
                mail_outbox.c.reference == complaint_id,
                mail_outbox.c.sent_at.is_(None),
                mail_outbox.c.expired_at.is_(None),
            )
        ).first()
        is not None
    )
