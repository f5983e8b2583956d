"""Notices to the affected people: who is still to be told, one run at a time, each send kept.

A notice is marked ``sent`` only after the mail server accepted the message, in a
transaction of its own: a crash between the two sends that one notice again on the
next run, and never marks one sent that was not. A run holds a lease on the
incident (``notifying_until``), renewed as it goes, so that two runs never send the
same notices at once; a run that died lets go when its lease runs out.

The deadline check raises one alert per incident for the privacy officer when less
than :data:`ALERT_BEFORE` is left and notices are unsent; the claim is a
conditional update, so however many servers run it, one alert is raised.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, or_, select, update

from haechi.audit.monitor import Alert, record_alert
from haechi.errors import Conflict
from haechi.storage.incidents_tables import incident_notices, incidents

__all__ = [
    "ALERT_BEFORE",
    "LEASE",
    "check_deadlines",
    "claim_lease",
    "mark_notice",
    "pending_notices",
    "release_lease",
    "renew_lease",
]

ALERT_BEFORE = timedelta(hours=24)
LEASE = timedelta(minutes=2)
_UNSENT = ("pending", "unreachable")


def claim_lease(connection: Connection, incident_id: str, *, now: datetime) -> None:
    """Take (or renew) the incident's notice lease, or refuse while another run holds it."""
    claimed = connection.execute(
        update(incidents)
        .where(
            incidents.c.id == incident_id,
            or_(incidents.c.notifying_until.is_(None), incidents.c.notifying_until <= now),
        )
        .values(notifying_until=now + LEASE)
    ).rowcount
    if not claimed:
        raise Conflict(
            "notices of this incident are being sent by another run",
            field="incident_id",
            code="NOTICES_IN_PROGRESS",
        )


def renew_lease(connection: Connection, incident_id: str, *, now: datetime) -> None:
    """Extend a lease this run holds."""
    connection.execute(
        update(incidents).where(incidents.c.id == incident_id).values(notifying_until=now + LEASE)
    )


def release_lease(connection: Connection, incident_id: str) -> None:
    """Let go of the lease."""
    connection.execute(
        update(incidents).where(incidents.c.id == incident_id).values(notifying_until=None)
    )


def pending_notices(connection: Connection, incident_id: str, *, retry: bool) -> list[int]:
    """Positions still to be told: pending ones, and with ``retry`` the unreachable too."""
    states = _UNSENT if retry else ("pending",)
    return [
        int(n)
        for n in connection.execute(
            select(incident_notices.c.n)
            .where(
                incident_notices.c.incident_id == incident_id,
                incident_notices.c.state.in_(states),
            )
            .order_by(incident_notices.c.n)
        ).scalars()
    ]


def mark_notice(
    connection: Connection, incident_id: str, n: int, *, state: str, now: datetime
) -> None:
    """Record the outcome of one notice (``sent`` only once the server accepted it)."""
    values: dict[str, object] = {"state": state, "attempted_at": now}
    if state == "sent":
        values["sent_at"] = now
    connection.execute(
        update(incident_notices)
        .where(
            incident_notices.c.incident_id == incident_id,
            incident_notices.c.n == n,
            incident_notices.c.state != "sent",
        )
        .values(**values)
    )


def check_deadlines(connection: Connection, *, now: datetime, actor: str) -> list[Alert]:
    """Alert once per open incident with under a day left and notices unsent."""
    unsent = (
        select(incident_notices.c.n)
        .where(
            incident_notices.c.incident_id == incidents.c.id,
            incident_notices.c.state.in_(_UNSENT),
        )
        .exists()
    )
    due = connection.execute(
        select(incidents.c.id, incidents.c.deadline_at).where(
            incidents.c.state == "open",
            incidents.c.alerted_at.is_(None),
            incidents.c.deadline_at <= now + ALERT_BEFORE,
            unsent,
        )
    ).all()
    raised: list[Alert] = []
    for row in due:
        claimed = connection.execute(
            update(incidents)
            .where(incidents.c.id == row.id, incidents.c.alerted_at.is_(None))
            .values(alerted_at=now)
        ).rowcount
        if not claimed:
            continue
        counts: dict[str, int] = dict(
            connection.execute(
                select(incident_notices.c.state, func.count())
                .where(incident_notices.c.incident_id == row.id)
                .group_by(incident_notices.c.state)
            ).all()
        )
        raised.append(
            record_alert(
                connection,
                rule="incident_deadline",
                actor=actor,
                now=now,
                window=(now, row.deadline_at),
                detail={
                    "incident_id": row.id,
                    "deadline": row.deadline_at.isoformat(),
                    "pending": int(counts.get("pending", 0)),
                    "unreachable": int(counts.get("unreachable", 0)),
                },
            )
        )
    return raised
