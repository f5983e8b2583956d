"""Audit events: one row per access decision and per change.

Events are written in the caller's transaction, so that an action and its record
commit together or not at all.

The log is append-only and kept for years, so no text a client chose goes into it.
Purposes and items are logged by their names in the policy (:func:`declared_names`);
a name the policy does not declare is logged as :data:`UNDECLARED` and counted
(``<undeclared:3>``), never spelled. Not as a keyed hash either: a hash of a guessable
text (a password typed into the username field) stays in the log for years, open to
a dictionary attack by whoever obtains the key, and a hash cannot be shredded;
repeated probes are told apart by actor, source address and time, which the monitors
already count. :func:`event_values` checks the shape of every name it is given as a
last line of defence. Free-text reasons (a download's, typed by staff) are needed for
the review and are kept, bounded to :data:`MAX_REASON` characters; a use whose reason
holds what the PII scanner finds (:func:`personal_data_in`: an email, a phone, a
resident or card number…) is refused before it reads, since the log would keep a
person's value in the clear for years.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.engine import Dialect

from haechi.errors import InvalidInput
from haechi.policy.schema import Policy, split_hold_purpose
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import audit_events

__all__ = [
    "MAX_REASON",
    "UNDECLARED",
    "AuditEvent",
    "EventFilter",
    "declared_names",
    "event_values",
    "list_events",
    "personal_data_in",
    "prepared_insert",
    "record_event",
]

UNDECLARED = "<undeclared>"
MAX_REASON = 500  # the column's width
_PURPOSE = re.compile(r"(hold:)?[a-z][a-z0-9_]{0,62}")
_ITEM = re.compile(r"[a-z][a-z0-9_]{0,62}")
_COUNTED = re.compile(r"<undeclared:([0-9]{1,9})>")
_PURPOSE_WIDTH = 63

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


def declared_names(
    policy: Policy, *, purpose: str | None, items: Iterable[str] = ()
) -> dict[str, Any]:
    """``purpose`` and ``items`` as the log keeps them: the policy's names only.

    A purpose the policy does not declare becomes :data:`UNDECLARED` (``hold:`` and a
    declared purpose is the policy's text, and is kept); item names it does not declare
    are counted in one ``<undeclared:N>`` entry.
    """
    logged = purpose
    if purpose is not None and split_hold_purpose(purpose)[0] not in policy.purposes:
        logged = UNDECLARED
    wanted = set(items)
    names = sorted(wanted & set(policy.items))
    if len(names) < len(wanted):
        names.append(f"<undeclared:{len(wanted) - len(names)}>")
    return {"purpose": logged, "items": names}


def _shaped(purpose: str | None, items: Iterable[str]) -> tuple[str | None, list[str]]:
    """Names that cannot be a policy's (too long, other characters) never reach the log."""
    if purpose not in (None, UNDECLARED) and (
        len(purpose) > _PURPOSE_WIDTH or not _PURPOSE.fullmatch(purpose)
    ):
        purpose = UNDECLARED
    kept: list[str] = []
    counted = 0
    for name in items:
        if marker := _COUNTED.fullmatch(name):
            counted += int(marker.group(1))
        elif _ITEM.fullmatch(name):
            kept.append(name)
        else:
            counted += 1
    if counted:
        kept.append(f"<undeclared:{counted}>")
    return purpose, kept


_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_FOLD = str.maketrans({dash: "-" for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"})


def personal_data_in(text: str) -> str | None:
    """The kind of personal value (``email``, ``phone``, ``rrn``…) ``text`` holds, or None.

    Scanned as a person would read it: full-width digits and signs as ASCII (NFKC), any
    dash as a hyphen, no invisible characters between the digits; ids (UUIDs) are not
    scanned, their digits being no one's.
    """
    from haechi.discovery import find_identifiers  # the scanner loads on first use

    folded = unicodedata.normalize("NFKC", text).translate(_FOLD)
    folded = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    folded = _UUID.sub(" ", folded)
    for finding in find_identifiers(folded):
        return finding.type
    return None


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
    """The row of one event. Item names only: never values, never undeclared names."""
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason has at most {MAX_REASON} characters", field="reason")
    purpose, names = _shaped(purpose, items)
    return {
        "occurred_at": now,
        "actor": actor,
        "actor_kind": actor_kind,
        "source_ip": source_ip,
        "subject_id": subject_id,
        "collection_id": collection_id,
        "action": action,
        "purpose": purpose,
        "items": json.dumps(sorted(names)),
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


@dataclass(frozen=True)
class EventFilter:
    """Which events to list: every field narrows (None: any), ``before`` pages back by id."""

    actor: str | None = None
    purpose: str | None = None
    subject_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None


def list_events(
    connection: Connection,
    *,
    subject_id: str | None = None,
    limit: int = 100,
    where: EventFilter | None = None,
) -> list[AuditEvent]:
    """The newest events, optionally for one subject or as ``where`` narrows them."""
    query = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
    if subject_id is not None:
        query = query.where(audit_events.c.subject_id == subject_id)
    if where is not None:
        conditions = [
            column == value
            for column, value in (
                (audit_events.c.actor, where.actor),
                (audit_events.c.purpose, where.purpose),
                (audit_events.c.subject_id, where.subject_id),
                (audit_events.c.outcome, where.outcome),
            )
            if value is not None
        ]
        if where.since is not None:
            conditions.append(audit_events.c.occurred_at >= where.since)
        if where.until is not None:
            conditions.append(audit_events.c.occurred_at < where.until)
        if where.before is not None:
            conditions.append(audit_events.c.id < where.before)
        query = query.where(*conditions)
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
