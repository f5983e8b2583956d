"""The monthly inspection of the access log: what each actor did, and its alerts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, func, insert, select

from haechi.audit.monitor import DOWNLOAD_ACTIONS, READ_ACTIONS, Alert, list_alerts
from haechi.errors import InvalidInput
from haechi.storage.tables import audit_events, audit_reviews

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "ActorActivity",
    "MonthlyReview",
    "month_bounds",
    "monthly_review",
    "record_review",
]

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
# Months a log can hold: the bounds of a month outside them (and their conversion to
# UTC) are out of the range of Python's datetime.
FIRST_YEAR, LAST_YEAR = 1970, 9998


@dataclass(frozen=True)
class ActorActivity:
    """One actor's month."""

    actor: str
    events: int
    reads: int
    downloads: int
    denied: int
    subjects: int
    alerts: int


@dataclass
class MonthlyReview:
    """A month's accesses per actor, its alerts, and the reviews recorded for it."""

    month: str
    actors: list[ActorActivity]
    alerts: list[Alert]
    reviews: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The review as JSON."""
        return {
            "month": self.month,
            "actors": [activity.__dict__ for activity in self.actors],
            "alerts": [alert.to_json() for alert in self.alerts],
            "reviews": self.reviews,
        }


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """The first instant of ``month`` (YYYY-MM) and of the next, in ``timezone``."""
    match = _MONTH.fullmatch(month)
    if match is None:
        raise InvalidInput("a month is written YYYY-MM, e.g. 2026-11", field="month")
    year, number = int(match.group(1)), int(match.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(
            f"a month lies between {FIRST_YEAR}-01 and {LAST_YEAR}-12", field="month"
        )
    zone = ZoneInfo(timezone)
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=zone)
    return start, end


def monthly_review(connection: Connection, month: str, *, timezone: str) -> MonthlyReview:
    """Each actor's activity in ``month``, with the month's alerts."""
    start, end = month_bounds(month, timezone)
    events = audit_events.c
    in_month = (events.occurred_at >= start) & (events.occurred_at < end)
    read = events.action.in_(sorted(READ_ACTIONS)) & (events.outcome == "allowed")
    rows = connection.execute(
        select(
            events.actor,
            func.count(),
            func.sum(case((read, 1), else_=0)),
            func.sum(case((events.action.in_(sorted(DOWNLOAD_ACTIONS)), 1), else_=0)),
            func.sum(case((events.outcome == "denied", 1), else_=0)),
            func.count(func.distinct(case((read, events.subject_id)))),
        )
        .where(in_month)
        .group_by(events.actor)
        .order_by(func.count().desc())
    ).all()
    alerts = list_alerts(connection, since=start, until=end, limit=10_000)
    per_actor: dict[str, int] = {}
    for alert in alerts:
        per_actor[alert.actor] = per_actor.get(alert.actor, 0) + 1
    actors = [
        ActorActivity(
            actor=row[0],
            events=int(row[1]),
            reads=int(row[2] or 0),
            downloads=int(row[3] or 0),
            denied=int(row[4] or 0),
            subjects=int(row[5] or 0),
            alerts=per_actor.get(row[0], 0),
        )
        for row in rows
    ]
    reviews = [
        {"reviewer": row.reviewer, "recorded_at": row.recorded_at.isoformat(), "notes": row.notes}
        for row in connection.execute(
            select(audit_reviews).where(audit_reviews.c.month == month).order_by(audit_reviews.c.id)
        )
    ]
    return MonthlyReview(month, actors, alerts, reviews)


def record_review(
    connection: Connection, *, month: str, reviewer: str, notes: str, now: datetime
) -> None:
    """Record that ``reviewer`` inspected ``month`` (the caller logs it as an event)."""
    if not _MONTH.fullmatch(month):
        raise InvalidInput("a month is written YYYY-MM, e.g. 2026-11", field="month")
    if not reviewer.strip():
        raise InvalidInput("the reviewer must be named", field="by")
    connection.execute(
        insert(audit_reviews).values(
            month=month, reviewer=reviewer.strip(), recorded_at=now, notes=notes
        )
    )
