"""Monitors over the audit stream: the policy's intrusion detection.

Rules (thresholds in :class:`haechi.config.MonitorSettings`):

- ``mass_access``: one actor reads more distinct subjects within an hour than allowed;
- ``download``: every download or export of personal data (which must carry a reason);
- ``off_hours``: access to personal data outside working hours;
- ``denied_burst``: many refused decisions by one actor within a few minutes;
- ``failed_logins``: many failed logins for one account within a few minutes;
- ``integrity_failure``: stored data failed authentication on a read (raised at once
  by the engine through :func:`record_alert`, not by a monitor run).

Monitors read events after a cursor kept in the database and raise each alert at
most once per actor and window. Alerts carry counts and event ids, never values.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from haechi.storage.tables import alerts, audit_events, audit_leaves, monitor_cursors

__all__ = ["READ_ACTIONS", "Alert", "MonitorRules", "list_alerts", "record_alert", "run_monitors"]

READ_ACTIONS = frozenset({"view", "download", "export"})
DOWNLOAD_ACTIONS = frozenset({"download", "export"})
_CURSOR = "monitors"


@dataclass(frozen=True)
class MonitorRules:
    """Thresholds of the rules (from settings)."""

    distinct_subjects_per_hour: int = 100
    denied_burst: int = 10
    denied_window: timedelta = timedelta(minutes=10)
    failed_logins: int = 5
    failed_login_window: timedelta = timedelta(minutes=10)
    workday_start: time = time(9, 0)
    workday_end: time = time(19, 0)
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    timezone: str = "Asia/Seoul"


@dataclass(frozen=True)
class Alert:
    """One alert, as stored and listed."""

    id: int
    rule: str
    actor: str
    raised_at: datetime
    window_start: datetime
    window_end: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    mailed_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The alert as JSON."""
        return {
            "id": self.id,
            "rule": self.rule,
            "actor": self.actor,
            "raised_at": self.raised_at.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "detail": self.detail,
            "mailed_at": self.mailed_at.isoformat() if self.mailed_at else None,
        }


def _row_to_alert(row: Any) -> Alert:
    return Alert(
        id=int(row.id),
        rule=row.rule,
        actor=row.actor,
        raised_at=row.raised_at,
        window_start=row.window_start,
        window_end=row.window_end,
        detail=json.loads(row.detail),
        mailed_at=row.mailed_at,
    )


def list_alerts(
    connection: Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    unmailed: bool = False,
    limit: int = 500,
) -> list[Alert]:
    """Alerts, newest first."""
    query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(alerts.c.raised_at >= since)
    if until is not None:
        query = query.where(alerts.c.raised_at < until)
    if unmailed:
        query = query.where(alerts.c.mailed_at.is_(None))
    return [_row_to_alert(row) for row in connection.execute(query)]


class _Raiser:
    """Raises alerts, once per rule, actor and window."""

    def __init__(self, connection: Connection, now: datetime):
        self.connection = connection
        self.now = now
        self.raised: list[Alert] = []

    def raise_once(
        self, rule: str, actor: str, start: datetime, end: datetime, detail: dict[str, Any]
    ) -> None:
        overlapping = self.connection.execute(
            select(alerts.c.id).where(
                alerts.c.rule == rule,
                alerts.c.actor == actor,
                alerts.c.window_end > start,
                alerts.c.window_start <= end,
            )
        ).first()
        if overlapping is not None and rule != "download":
            return
        self.raised.append(
            record_alert(
                self.connection,
                rule=rule,
                actor=actor,
                now=self.now,
                window=(start, end),
                detail=detail,
            )
        )


def record_alert(
    connection: Connection,
    *,
    rule: str,
    actor: str,
    now: datetime,
    window: tuple[datetime, datetime],
    detail: dict[str, Any],
) -> Alert:
    """Store one alert (counts and ids in ``detail``, never values)."""
    start, end = window
    result = connection.execute(
        insert(alerts).values(
            rule=rule,
            actor=actor,
            raised_at=now,
            window_start=start,
            window_end=end,
            detail=json.dumps(detail, sort_keys=True),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return Alert(int(key[0]), rule, actor, now, start, end, detail)


def _cursor(connection: Connection) -> int:
    """The next leaf to look at, locked for this transaction (one monitor at a time)."""
    value = connection.execute(
        select(monitor_cursors.c.next_leaf)
        .where(monitor_cursors.c.name == _CURSOR)
        .with_for_update()
    ).scalar()
    if value is None:
        connection.execute(insert(monitor_cursors).values(name=_CURSOR, next_leaf=0))
        return 0
    return int(value)


def run_monitors(
    connection: Connection, rules: MonitorRules, *, now: datetime, batch: int = 50_000
) -> list[Alert]:
    """Evaluate every rule over the events sealed since the last run; return new alerts.

    Monitors follow the sealed log, in leaf order: it is final and dense, so an event
    that committed late (PostgreSQL) is looked at once it is sealed, never skipped.
    """
    start = _cursor(connection)
    rows = connection.execute(
        select(audit_leaves.c.leaf_index, audit_events)
        .join(audit_events, audit_events.c.id == audit_leaves.c.event_id)
        .where(audit_leaves.c.leaf_index >= start)
        .order_by(audit_leaves.c.leaf_index)
        .limit(batch)
    ).all()
    if not rows:
        return []
    next_leaf = int(rows[-1].leaf_index) + 1
    events = sorted(rows, key=lambda row: row.id)
    raiser = _Raiser(connection, now)
    _downloads(events, raiser)
    _off_hours(events, rules, raiser)
    _mass_access(connection, events, rules, raiser)
    _bursts(
        connection,
        events,
        raiser,
        rule="denied_burst",
        match=lambda e: e.outcome == "denied" and e.action != "login",
        threshold=rules.denied_burst,
        window=rules.denied_window,
        condition=(audit_events.c.outcome == "denied") & (audit_events.c.action != "login"),
    )
    _bursts(
        connection,
        events,
        raiser,
        rule="failed_logins",
        match=lambda e: e.outcome == "denied" and e.action == "login",
        threshold=rules.failed_logins,
        window=rules.failed_login_window,
        condition=(audit_events.c.outcome == "denied") & (audit_events.c.action == "login"),
    )
    connection.execute(
        update(monitor_cursors).where(monitor_cursors.c.name == _CURSOR).values(next_leaf=next_leaf)
    )
    return raiser.raised


def _downloads(events: Sequence[Any], raiser: _Raiser) -> None:
    for event in events:
        if event.action in DOWNLOAD_ACTIONS and event.outcome == "allowed":
            raiser.raise_once(
                "download",
                event.actor,
                event.occurred_at,
                event.occurred_at,
                {
                    "event_id": int(event.id),
                    "subject_id": event.subject_id,
                    "purpose": event.purpose,
                    "has_reason": bool(event.reason),
                },
            )


def _off_hours(events: Sequence[Any], rules: MonitorRules, raiser: _Raiser) -> None:
    zone = ZoneInfo(rules.timezone)
    by_actor: dict[str, list[Any]] = defaultdict(list)
    for event in events:
        if event.action not in READ_ACTIONS or event.outcome != "allowed":
            continue
        local = event.occurred_at.astimezone(zone)
        working = (
            local.weekday() in rules.workdays
            and rules.workday_start <= local.time() < rules.workday_end
        )
        if not working:
            by_actor[event.actor].append(event)
    for actor, found in by_actor.items():
        day_start = (
            found[0].occurred_at.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        )
        raiser.raise_once(
            "off_hours",
            actor,
            day_start,
            day_start + timedelta(days=1),
            {"events": len(found), "first_event_id": int(found[0].id)},
        )


def _mass_access(
    connection: Connection, events: Sequence[Any], rules: MonitorRules, raiser: _Raiser
) -> None:
    latest: dict[str, datetime] = {}
    for event in events:
        if event.action in READ_ACTIONS and event.outcome == "allowed" and event.subject_id:
            latest[event.actor] = max(latest.get(event.actor, event.occurred_at), event.occurred_at)
    for actor, end in latest.items():
        start = end - timedelta(hours=1)
        distinct = connection.execute(
            select(func.count(func.distinct(audit_events.c.subject_id))).where(
                audit_events.c.actor == actor,
                audit_events.c.action.in_(sorted(READ_ACTIONS)),
                audit_events.c.outcome == "allowed",
                audit_events.c.occurred_at > start,
                audit_events.c.occurred_at <= end,
            )
        ).scalar_one()
        if distinct > rules.distinct_subjects_per_hour:
            raiser.raise_once(
                "mass_access",
                actor,
                start,
                end,
                {"distinct_subjects": int(distinct), "limit": rules.distinct_subjects_per_hour},
            )


def _bursts(
    connection: Connection,
    events: Sequence[Any],
    raiser: _Raiser,
    *,
    rule: str,
    match: Any,
    threshold: int,
    window: timedelta,
    condition: Any,
) -> None:
    latest: dict[str, datetime] = {}
    for event in events:
        if match(event):
            latest[event.actor] = max(latest.get(event.actor, event.occurred_at), event.occurred_at)
    for actor, end in latest.items():
        start = end - window
        count = connection.execute(
            select(func.count()).where(
                condition,
                audit_events.c.actor == actor,
                audit_events.c.occurred_at > start,
                audit_events.c.occurred_at <= end,
            )
        ).scalar_one()
        if count >= threshold:
            raiser.raise_once(rule, actor, start, end, {"count": int(count), "limit": threshold})
