"""The figures of a quarter, each one query over the records (indexed by time).

Percentages are of what the quarter closed: requests answered in it, collections
destroyed in it. A quarter with none gives ``None``, not 100 %.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from haechi.access.roles import Role
from haechi.audit.monitor import DOWNLOAD_ACTIONS, READ_ACTIONS, Alert, list_alerts
from haechi.reports.breaches import incident_figures
from haechi.reports.quarters import REPORT_TIMEZONE, Quarter
from haechi.storage.rights_tables import rights_requests
from haechi.storage.tables import (
    audit_events,
    audit_reviews,
    destruction_certificates,
    policy_versions,
    staff,
    staff_grant_history,
    staff_grants,
)

__all__ = ["MAX_ROWS", "QuarterlyFigures", "percent", "quarterly_figures"]

#: the most rows a list in the report shows (its totals count them all)
MAX_ROWS = 1000
#: the most characters of a staff text (a reason) the report shows
MAX_SHOWN = 200


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal; None when there is no whole."""
    return round(100 * part / whole, 1) if whole else None


def _shown(text: str | None) -> str:
    value = " ".join((text or "").split())
    return value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 1] + "…"


def _iso(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass
class QuarterlyFigures:
    """Everything the quarterly report states, as plain values (JSON as it is)."""

    quarter: str
    timezone: str
    start: str
    end: str
    generated_at: str
    accesses: list[dict[str, Any]]
    accesses_by_purpose: dict[str, int]
    downloads: dict[str, Any]
    alerts: dict[str, Any]
    reviews: list[dict[str, Any]]
    requests: dict[str, Any]
    destructions: dict[str, Any]
    grant_changes: dict[str, Any]
    staff_per_purpose: dict[str, Any]
    verification: dict[str, Any]
    policy_versions: dict[str, Any]
    register: dict[str, Any] = field(default_factory=dict)
    incidents: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON."""
        return asdict(self)


def _within(column: Any, quarter: Quarter) -> Any:
    return and_(column >= quarter.start, column < quarter.end)


def accesses(connection: Connection, quarter: Quarter) -> list[dict[str, Any]]:
    """Reads of personal data per actor and purpose: allowed and denied."""
    e = audit_events.c
    allowed = case((e.outcome == "allowed", 1), else_=0)
    rows = connection.execute(
        select(e.actor, e.purpose, func.count(), func.sum(allowed))
        .where(_within(e.occurred_at, quarter), e.action.in_(sorted(READ_ACTIONS)))
        .group_by(e.actor, e.purpose)
        .order_by(e.actor, e.purpose)
    ).all()
    return [
        {
            "actor": row[0],
            "purpose": row[1],
            "allowed": int(row[3] or 0),
            "denied": int(row[2]) - int(row[3] or 0),
        }
        for row in rows
    ]


def downloads(connection: Connection, quarter: Quarter) -> dict[str, Any]:
    """Downloads and exports of personal data with their reasons (shown bounded)."""
    e = audit_events.c
    where = (_within(e.occurred_at, quarter), e.action.in_(sorted(DOWNLOAD_ACTIONS)))
    total = connection.execute(select(func.count()).where(*where)).scalar_one()
    rows = connection.execute(
        select(e.id, e.occurred_at, e.actor, e.action, e.purpose, e.reason, e.outcome)
        .where(*where)
        .order_by(e.occurred_at, e.id)
        .limit(MAX_ROWS)
    )
    listed = [
        {
            "event": row.id,
            "occurred_at": _iso(row.occurred_at),
            "actor": row.actor,
            "action": row.action,
            "purpose": row.purpose,
            "reason": _shown(row.reason),
            "outcome": row.outcome,
        }
        for row in rows
    ]
    return {"total": int(total), "listed": listed}


def alerts(connection: Connection, quarter: Quarter, reviewed: set[str]) -> dict[str, Any]:
    """The quarter's alerts by rule, and how each was followed up.

    An alert is ``mailed`` once sent to the privacy officer and ``reviewed`` once a
    monthly review of its month is recorded; neither is ``open``.
    """
    found: list[Alert] = list_alerts(
        connection, since=quarter.start, until=quarter.end, limit=MAX_ROWS * 10
    )
    by_rule: dict[str, dict[str, int]] = {}
    listed = []
    for alert in sorted(found, key=lambda one: one.id):
        is_reviewed = quarter.month_of(alert.raised_at) in reviewed
        counts = by_rule.setdefault(alert.rule, {"raised": 0, "mailed": 0, "reviewed": 0})
        counts["raised"] += 1
        counts["mailed"] += alert.mailed_at is not None
        counts["reviewed"] += is_reviewed
        resolution = "reviewed" if is_reviewed else "mailed" if alert.mailed_at else "open"
        listed.append(
            {
                "id": alert.id,
                "rule": alert.rule,
                "actor": alert.actor,
                "raised_at": _iso(alert.raised_at),
                "resolution": resolution,
            }
        )
    return {"total": len(found), "by_rule": by_rule, "listed": listed[:MAX_ROWS]}


def reviews(connection: Connection, quarter: Quarter) -> list[dict[str, Any]]:
    """Each month of the quarter with the monthly reviews recorded for it."""
    r = audit_reviews.c
    rows = connection.execute(
        select(r.month, r.reviewer, r.recorded_at)
        .where(r.month.in_(quarter.months))
        .order_by(r.month, r.id)
    ).all()
    return [
        {
            "month": month,
            "reviews": [
                {"reviewer": row.reviewer, "recorded_at": _iso(row.recorded_at)}
                for row in rows
                if row.month == month
            ],
        }
        for month in quarter.months
    ]


def requests(connection: Connection, quarter: Quarter, now: datetime) -> dict[str, Any]:
    """Requests received by kind and state; those answered in the quarter, on time or late."""
    q = rights_requests.c
    received = connection.execute(
        select(q.kind, q.state, func.count())
        .where(_within(q.received_at, quarter))
        .group_by(q.kind, q.state)
        .order_by(q.kind, q.state)
    ).all()
    on_time = case((q.closed_at <= q.due_at, 1), else_=0)
    answered, timely = connection.execute(
        select(func.count(), func.sum(on_time)).where(_within(q.closed_at, quarter))
    ).one()
    answered, timely = int(answered), int(timely or 0)
    # Still open past their deadline at the quarter's end (or now, if it has not ended).
    cutoff = min(now, quarter.end)
    overdue_open = connection.execute(
        select(func.count()).where(
            q.received_at < quarter.end,
            q.due_at < cutoff,
            or_(q.closed_at.is_(None), q.closed_at >= quarter.end),
        )
    ).scalar_one()
    return {
        "received": [{"kind": k, "state": s, "count": int(n)} for k, s, n in received],
        "received_total": sum(int(n) for _, _, n in received),
        "answered": answered,
        "on_time": timely,
        "late": answered - timely,
        "on_time_percent": percent(timely, answered),
        "open_overdue": int(overdue_open),
    }


def destructions(connection: Connection, quarter: Quarter) -> dict[str, Any]:
    """Collections destroyed in the quarter: on time, or after their due date and grace."""
    d = destruction_certificates.c
    overdue = case((d.overdue.is_(True), 1), else_=0)
    unconfirmed = case((d.confirmed_at.is_(None), 1), else_=0)
    total, late, open_ = connection.execute(
        select(func.count(), func.sum(overdue), func.sum(unconfirmed)).where(
            _within(d.destroyed_at, quarter)
        )
    ).one()
    total, late = int(total), int(late or 0)
    return {
        "destroyed": total,
        "on_time": total - late,
        "overdue": late,
        "on_time_percent": percent(total - late, total),
        "unconfirmed": int(open_ or 0),
    }


def grant_changes(connection: Connection, quarter: Quarter) -> dict[str, Any]:
    """Account and grant changes of the quarter (the append-only history)."""
    h = staff_grant_history.c
    rows = connection.execute(
        select(staff_grant_history)
        .where(_within(h.occurred_at, quarter))
        .order_by(h.occurred_at, h.id)
        .limit(MAX_ROWS)
    ).all()
    by_change = connection.execute(
        select(h.change, func.count())
        .where(_within(h.occurred_at, quarter))
        .group_by(h.change)
        .order_by(h.change)
    ).all()
    return {
        "by_change": {change: int(count) for change, count in by_change},
        "listed": [
            {
                "occurred_at": _iso(row.occurred_at),
                "username": row.username,
                "change": row.change,
                "purpose": row.purpose,
                "role": row.role,
                "changed_by": row.changed_by,
                "reason": _shown(row.reason),
            }
            for row in rows
        ],
    }


def staff_per_purpose(connection: Connection, purposes: list[str]) -> dict[str, Any]:
    """Active staff granted each declared purpose; privacy officers serve them all."""
    s, g = staff.c, staff_grants.c
    active = s.disabled_at.is_(None)
    rows = connection.execute(
        select(g.purpose, func.count())
        .select_from(staff_grants.join(staff, s.id == g.staff_id))
        .where(active, s.role == Role.HANDLER.value)
        .group_by(g.purpose)
    ).all()
    granted = {purpose: int(count) for purpose, count in rows}
    officers = connection.execute(
        select(func.count()).where(active, s.role == Role.PRIVACY_OFFICER.value)
    ).scalar_one()
    return {
        "officers": int(officers),
        "handlers": {purpose: granted.get(purpose, 0) for purpose in purposes},
    }


def versions(connection: Connection, quarter: Quarter) -> dict[str, Any]:
    """The published version in force at the quarter's end, and those announced in it."""
    v = policy_versions.c
    in_force = connection.execute(
        select(v.n, v.label, v.effective_at)
        .where(v.n.is_not(None), v.effective_at < quarter.end)
        .order_by(v.effective_at.desc(), v.n.desc())
        .limit(1)
    ).first()
    announced = connection.execute(
        select(v.n, v.label, v.announced_at, v.effective_at)
        .where(v.n.is_not(None), _within(v.announced_at, quarter))
        .order_by(v.n)
    ).all()
    return {
        "in_force": None
        if in_force is None
        else {
            "n": in_force.n,
            "label": in_force.label,
            "effective_at": _iso(in_force.effective_at),
        },
        "announced": [
            {
                "n": row.n,
                "label": row.label,
                "announced_at": _iso(row.announced_at),
                "effective_at": _iso(row.effective_at),
            }
            for row in announced
        ],
    }


def quarterly_figures(
    connection: Connection,
    quarter: Quarter,
    *,
    purposes: list[str],
    verification: dict[str, Any],
    now: datetime,
) -> QuarterlyFigures:
    """Every figure of ``quarter`` but the register (the caller adds it)."""
    found_reviews = reviews(connection, quarter)
    reviewed = {month["month"] for month in found_reviews if month["reviews"]}
    found_accesses = accesses(connection, quarter)
    by_purpose: dict[str, int] = {}
    for row in found_accesses:
        name = row["purpose"] or "-"
        by_purpose[name] = by_purpose.get(name, 0) + row["allowed"]
    return QuarterlyFigures(
        quarter=quarter.name,
        timezone=REPORT_TIMEZONE,
        start=quarter.start.isoformat(),
        end=quarter.end.isoformat(),
        generated_at=now.isoformat(),
        accesses=found_accesses,
        accesses_by_purpose=by_purpose,
        downloads=downloads(connection, quarter),
        alerts=alerts(connection, quarter, reviewed),
        reviews=found_reviews,
        requests=requests(connection, quarter, now),
        destructions=destructions(connection, quarter),
        grant_changes=grant_changes(connection, quarter),
        staff_per_purpose=staff_per_purpose(connection, purposes),
        verification=verification,
        policy_versions=versions(connection, quarter),
        incidents=incident_figures(connection, quarter, limit=MAX_ROWS),
    )
