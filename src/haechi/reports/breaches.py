"""The quarter's incidents in the report: opened, notified on time, reported, closed.

Counts and dates from the breach register only; no subject and no sealed text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, func, select

from haechi.reports.quarters import Quarter
from haechi.storage.incidents_tables import incident_notices, incidents

__all__ = ["incident_figures"]


def incident_figures(connection: Connection, quarter: Quarter, *, limit: int) -> dict[str, Any]:
    """Incidents opened in ``quarter``: each with its people, deadline and notices."""
    i = incidents.c
    n = incident_notices.c
    notices = (
        select(
            n.incident_id,
            func.count().label("total"),
            func.count(n.sent_at).label("sent"),
            func.max(n.sent_at).label("last_sent"),
        )
        .group_by(n.incident_id)
        .subquery()
    )
    rows = connection.execute(
        select(
            i.id,
            i.opened_at,
            i.aware_at,
            i.deadline_at,
            i.affected_count,
            i.report_to_regulator,
            i.reported_at,
            i.closed_at,
            notices.c.total,
            notices.c.sent,
            notices.c.last_sent,
        )
        .outerjoin(notices, notices.c.incident_id == i.id)
        .where(and_(i.opened_at >= quarter.start, i.opened_at < quarter.end))
        .order_by(i.opened_at, i.id)
    ).all()
    listed = []
    on_time = 0
    for row in rows:
        total, done = int(row.total or 0), int(row.sent or 0)
        timely = done == total and (row.last_sent is None or row.last_sent <= row.deadline_at)
        on_time += timely
        listed.append(
            {
                "id": row.id,
                "opened_at": row.opened_at.isoformat(),
                "aware_at": row.aware_at.isoformat(),
                "deadline": row.deadline_at.isoformat(),
                "people": int(row.affected_count),
                "report_to_regulator": bool(row.report_to_regulator),
                "reported_at": row.reported_at.isoformat() if row.reported_at else None,
                "notices_sent": done,
                "notices_total": total,
                "notified_on_time": timely,
                "closed_at": row.closed_at.isoformat() if row.closed_at else None,
            }
        )
    return {
        "opened": len(rows),
        "people": sum(one["people"] for one in listed),
        "notified_on_time": on_time,
        "to_report": sum(one["report_to_regulator"] for one in listed),
        "listed": listed[:limit],
    }
