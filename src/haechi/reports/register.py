"""The safeguards register: staff training records and the officer's attestations.

Both are append-only. Courses and notes are staff text: bounded, stripped of control
characters, kept in these tables for the audit and never copied into an audit event
(the caller's event names the quarter and the measure, never the text).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from haechi.access.roles import Role
from haechi.errors import InvalidInput, Problem
from haechi.policy.published import MeasureKind
from haechi.reports.quarters import Quarter
from haechi.storage.report_tables import safeguard_attestations, staff_training
from haechi.storage.tables import staff

__all__ = [
    "MAX_COURSE",
    "MAX_NOTE",
    "QUARTER_MEASURE",
    "Attestation",
    "TrainingRecord",
    "checked_text",
    "list_attestations",
    "list_training",
    "record_attestation",
    "record_training",
    "register_view",
    "untrained",
]

#: the measure name of the officer's attestation of the whole quarter
QUARTER_MEASURE = "quarter"
MAX_COURSE = 200
MAX_NOTE = 2000
MAX_LISTED = 10_000


@dataclass(frozen=True)
class TrainingRecord:
    """One staff member's completed course."""

    id: int
    username: str
    course: str
    taken_on: date
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class Attestation:
    """The privacy officer's confirmation of one measure (or of the quarter)."""

    id: int
    quarter: str
    measure: str
    note: str
    attested_by: str
    attested_at: datetime


def _day_or_time(moment: date | datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def checked_text(value: str, *, field: str, limit: int, required: bool = True) -> Problem | None:
    """The fault of a staff text (empty, too long, control characters), or None."""
    if len(value) > limit:
        return Problem(field, "TOO_LONG", f"{field} has at most {limit} characters")
    if required and not value.strip():
        return Problem(field, "REQUIRED", f"{field} must not be empty")
    if any(unicodedata.category(char) in ("Cc", "Cs") and char not in "\n\t" for char in value):
        return Problem(field, "CONTROL_CHARACTER", f"{field} holds control characters")
    return None


def _refuse(*faults: Problem | None) -> None:
    found = tuple(fault for fault in faults if fault is not None)
    if found:
        raise InvalidInput(found[0].message, field=found[0].field, problems=found)


def record_training(
    connection: Connection,
    *,
    staff_id: str,
    username: str,
    course: str,
    taken_on: date,
    recorded_by: str,
    now: datetime,
    today: date,
) -> int:
    """Append one training record; a course taken after ``today`` is refused."""
    future = (
        Problem("date", "IN_FUTURE", "a training date may not lie in the future")
        if taken_on > today
        else None
    )
    _refuse(checked_text(course, field="course", limit=MAX_COURSE), future)
    result = connection.execute(
        insert(staff_training).values(
            staff_id=staff_id,
            username=username,
            course=course.strip(),
            taken_on=taken_on,
            recorded_by=recorded_by,
            recorded_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def list_training(
    connection: Connection, *, since: date | None = None, until: date | None = None
) -> list[TrainingRecord]:
    """Training records, by date (``since`` ≤ taken_on < ``until``)."""
    c = staff_training.c
    query = select(staff_training).order_by(c.taken_on, c.id).limit(MAX_LISTED)
    if since is not None:
        query = query.where(c.taken_on >= since)
    if until is not None:
        query = query.where(c.taken_on < until)
    return [
        TrainingRecord(
            row.id, row.username, row.course, row.taken_on, row.recorded_by, row.recorded_at
        )
        for row in connection.execute(query)
    ]


def record_attestation(
    connection: Connection,
    *,
    quarter: Quarter,
    measure: str,
    declared: frozenset[str],
    note: str,
    attested_by: str,
    now: datetime,
) -> int:
    """Append one attestation of ``quarter``.

    A measure must be one the policy declares and its quarter must have begun; the whole
    quarter is attested only once it has ended (a record may not say what is not yet so).
    """
    faults: list[Problem | None] = [checked_text(note, field="note", limit=MAX_NOTE)]
    if measure == QUARTER_MEASURE:
        if now < quarter.end:
            faults.append(
                Problem("quarter", "NOT_ENDED", "a quarter is attested once it has ended")
            )
    elif measure not in declared:
        known = ", ".join(kind.value for kind in MeasureKind if kind.value in declared)
        faults.append(
            Problem("measure", "NOT_DECLARED", f"the policy declares these measures: {known}")
        )
    elif now < quarter.start:
        faults.append(Problem("quarter", "NOT_BEGUN", "this quarter has not begun"))
    _refuse(*faults)
    result = connection.execute(
        insert(safeguard_attestations).values(
            quarter=quarter.name,
            measure=measure,
            note=note.strip(),
            attested_by=attested_by,
            attested_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def list_attestations(connection: Connection, quarter: Quarter) -> list[Attestation]:
    """The quarter's attestations, oldest first."""
    c = safeguard_attestations.c
    rows = connection.execute(
        select(safeguard_attestations)
        .where(c.quarter == quarter.name)
        .order_by(c.id)
        .limit(MAX_LISTED)
    )
    return [
        Attestation(row.id, row.quarter, row.measure, row.note, row.attested_by, row.attested_at)
        for row in rows
    ]


def untrained(connection: Connection, quarter: Quarter) -> list[str]:
    """Active staff with access to personal data and no course in the year to the quarter's end.

    Handlers and privacy officers read personal data; the policy trains them at least
    yearly (``staff_training`` recurs every P1Y).
    """
    s, t = staff.c, staff_training.c
    year_before = quarter.end_day.replace(year=quarter.end_day.year - 1)
    trained = select(t.staff_id).where(t.taken_on >= year_before, t.taken_on < quarter.end_day)
    rows = connection.execute(
        select(s.username)
        .where(
            s.disabled_at.is_(None),
            s.role.in_([Role.HANDLER.value, Role.PRIVACY_OFFICER.value]),
            s.created_at < quarter.end,
            s.id.not_in(trained),
        )
        .order_by(s.username)
        .limit(MAX_LISTED)
    )
    return [row.username for row in rows]


def register_view(
    declared: list[str],
    attestations: list[Attestation],
    training: list[TrainingRecord],
    untrained: list[str],
) -> dict[str, Any]:
    """Each declared measure confirmed or missing (the latest note), and the training."""
    latest = {one.measure: one for one in attestations}

    def shown(one: Attestation | None) -> dict[str, Any] | None:
        if one is None:
            return None
        return {"by": one.attested_by, "at": _day_or_time(one.attested_at), "note": one.note}

    measures = [
        {"kind": kind, "confirmed": kind in latest, "attestation": shown(latest.get(kind))}
        for kind in declared
    ]
    return {
        "measures": measures,
        "confirmed": sum(1 for one in measures if one["confirmed"]),
        "missing": [one["kind"] for one in measures if not one["confirmed"]],
        "quarter_attested": shown(latest.get("quarter")),
        "training": [
            {
                "username": one.username,
                "course": one.course,
                "taken_on": _day_or_time(one.taken_on),
                "recorded_by": one.recorded_by,
            }
            for one in training
        ],
        "untrained": untrained,
    }
