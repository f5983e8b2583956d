"""What the staff console reads beyond the other areas: role checks, the log, the dashboard.

- :meth:`OverviewMixin.require_staff` refuses an actor without a role, and the refusal
  is an audit event (a page someone was not allowed to open says who tried);
- :meth:`OverviewMixin.access_log` lists the log's events, narrowed by actor, purpose,
  subject, time and outcome, a page at a time, for the privacy officer and auditors;
- :meth:`OverviewMixin.subject_collections` lists a subject's collections (states and
  dates, never values) for the purposes the actor serves;
- :meth:`OverviewMixin.dashboard` gathers the figures of the console's first page:
  each part only for the roles that may read it.

Every read is an event; whole-log verification stays :meth:`LogMixin.verify_log`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, func, select

from haechi.access.decision import Actor, CollectionState
from haechi.access.roles import Role, require_role
from haechi.audit.events import AuditEvent, EventFilter, list_events
from haechi.audit.monitor import READ_ACTIONS, Alert, list_alerts
from haechi.audit.sealer import latest_head, row_to_head
from haechi.audit.verify import VerifyReport
from haechi.engine.base import EngineBase
from haechi.errors import InvalidInput, PermissionDenied, Problem
from haechi.policy.schema import hold_purpose
from haechi.retention import records
from haechi.retention.records import BatchInfo, Certificate, PaperRecord
from haechi.retention.sweep import Sweeper
from haechi.rights import requests as request_rows
from haechi.rights.models import CLOSED, RequestInfo
from haechi.storage.rights_tables import rights_requests
from haechi.storage.tables import audit_events, audit_reviews, collections
from haechi.storage.tables import subjects as subjects_table
from haechi.subjects import service as subjects
from haechi.subjects.models import CollectionInfo

__all__ = [
    "LOG_READERS",
    "MAX_LOG_PAGE",
    "Dashboard",
    "HeadStatus",
    "OverviewMixin",
]

#: who reads the access log, its alerts and its review
LOG_READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR)
#: the most events one page of the log lists
MAX_LOG_PAGE = 200
_REQUEST_READERS = (Role.PRIVACY_OFFICER, Role.HANDLER, Role.AUDITOR)
_OUTCOMES = ("allowed", "denied")
_LIVE = (CollectionState.ACTIVE.value, CollectionState.HELD.value, CollectionState.SUSPENDED.value)
_OPEN_LISTED = 1000
_WEEKS = 12
_MONTHS = 12
_EXPIRING_DAYS = 30


@dataclass(frozen=True)
class HeadStatus:
    """The newest signed tree head and whether its signature holds under our key."""

    size: int
    signed_at: datetime
    root: str
    signature_ok: bool


@dataclass(frozen=True)
class Dashboard:
    """The console's first page; a part is None when the actor's role does not read it."""

    now: datetime
    requests_by_state: dict[str, int] | None
    nearest: list[RequestInfo] | None
    overdue_requests: int | None
    requests_per_week: dict[str, int] | None
    open_alerts: list[Alert] | None
    accesses_per_purpose: dict[str, int] | None
    overdue_destructions: int | None
    expiring: dict[str, int] | None
    retention_timeline: dict[str, int] | None
    head: HeadStatus | None


def _filter_problems(where: EventFilter, limit: int) -> list[Problem]:
    """What is wrong with a log query, one problem per field."""
    problems: list[Problem] = []

    def fault(field: str, message: str) -> None:
        problems.append(Problem(field=field, code="INVALID_FILTER", message=message))

    if where.outcome is not None and where.outcome not in _OUTCOMES:
        fault("outcome", "outcome is allowed or denied")
    zoned = True
    for name in ("since", "until"):
        moment = getattr(where, name)
        if moment is not None and moment.tzinfo is None:
            zoned = False
            fault(name, f"{name} must give its UTC offset")
    if zoned and where.since and where.until and where.since >= where.until:
        fault("until", "until comes after since")
    if not 1 <= limit <= MAX_LOG_PAGE:
        fault("limit", f"limit is 1 to {MAX_LOG_PAGE}")
    if where.before is not None and where.before < 1:
        fault("before", "before is an event id, 1 or more")
    return problems


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: datetime) -> datetime:
    return (moment.replace(day=28) + timedelta(days=4)).replace(day=1)


class OverviewMixin(EngineBase):
    """Role checks that are events, the filtered log, a subject's collections, the dashboard."""

    def require_staff(self, action: str, *roles: Role, actor: Actor) -> None:
        """Refuse ``actor`` unless it holds one of ``roles``; a refusal is an audit event."""
        try:
            require_role(actor, *roles)
        except PermissionDenied as refused:
            with self.transaction() as connection:
                self._record_denial(connection, actor, action, refused.code)
            raise

    # -- the access log -----------------------------------------------------------

    def access_log(self, *, actor: Actor, where: EventFilter, limit: int = 50) -> list[AuditEvent]:
        """A page of the log, newest first, as ``where`` narrows it (officer and auditors)."""
        self.require_staff("log_read", *LOG_READERS, actor=actor)
        problems = _filter_problems(where, limit)
        if problems:
            first = problems[0]
            raise InvalidInput(
                first.message, field=first.field, code=first.code, problems=tuple(problems)
            )
        with self.transaction() as connection:
            events = list_events(connection, limit=limit, where=where)
            self._record(
                connection,
                actor,
                "log_read",
                subject_id=self._known_subject(connection, where.subject_id),
                reason=f"{len(events)} event(s)",
            )
        return events

    def record_verification(self, report: VerifyReport, *, actor: Actor) -> None:
        """Record that ``actor`` had the whole log verified, and its result."""
        self.require_staff("log_verify", *LOG_READERS, actor=actor)
        with self.transaction() as connection:
            self._record(
                connection,
                actor,
                "log_verify",
                outcome="allowed",
                code=None if report.ok else "LOG_INVALID",
                reason=f"{report.size} leaves, {report.heads} heads: "
                + ("verified" if report.ok else f"{len(report.problems)} problem(s)"),
            )

    def _known_subject(self, connection: Connection, subject_id: str | None) -> str | None:
        # Only a subject that exists is named in an event: otherwise the id is client text.
        if subject_id is None:
            return None
        found = connection.execute(
            select(subjects_table.c.id).where(subjects_table.c.id == subject_id)
        ).first()
        return subject_id if found else None

    # -- destructions ---------------------------------------------------------------

    def destruction_overview(
        self, *, actor: Actor, limit: int = 100
    ) -> tuple[list[BatchInfo], list[str], list[PaperRecord]]:
        """Batches (awaiting confirmation first), overdue collection ids, paper records.

        For the privacy officer and auditors; the read is an event.
        """
        self.require_staff("destruction_list", *LOG_READERS, actor=actor)
        with self.transaction() as connection:
            batches = records.list_batches(connection)
            batches.sort(key=lambda batch: not batch.awaiting_confirmation)
            overdue = self._overdue_ids(connection, self.clock())[:limit]
            paper = records.list_paper(connection)[:limit]
            self._record(connection, actor, "destruction_list", reason=f"{len(overdue)} overdue")
        return batches[:limit], overdue, paper

    def destruction_certificates(
        self, batch_id: str, *, actor: Actor, limit: int = 500
    ) -> tuple[BatchInfo, list[Certificate]]:
        """One batch and its first ``limit`` certificates; the read is an event."""
        self.require_staff("destruction_view", *LOG_READERS, actor=actor)
        with self.transaction() as connection:
            batch = records.get_batch(connection, batch_id=batch_id)
            certificates = records.certificates(connection, batch_id=batch_id, limit=limit)
            self._record(connection, actor, "destruction_view", reason=f"batch {batch.id}")
        return batch, certificates

    # -- a subject ----------------------------------------------------------------

    def subject_collections(self, subject_id: str, *, actor: Actor) -> list[CollectionInfo]:
        """A subject's collections for the purposes ``actor`` serves: states, never values.

        The read is an event naming the subject; a subject with none the actor may see
        is answered as one with none at all.
        """

        def serves(purpose: str) -> bool:
            return actor.may_serve(purpose) or actor.may_serve(hold_purpose(purpose))

        with self.transaction() as connection:
            known = self._known_subject(connection, subject_id)
            found = subjects.subject_collections(connection, subject_id) if known else []
            shown = [info for info in found if serves(info.purpose)]
            self._record(
                connection,
                actor,
                "view_collections",
                outcome="allowed" if shown else "denied",
                code=None if shown else "NOT_FOUND",
                subject_id=known if shown else None,
                reason=f"{len(shown)} collection(s)",
            )
        return shown

    # -- the dashboard ------------------------------------------------------------

    def dashboard(self, *, actor: Actor) -> Dashboard:
        """The first page's figures; each part only for the roles that read it."""
        self.require_staff("dashboard", *Role, actor=actor)
        now = self.clock()
        zone = ZoneInfo(self.settings.monitor.timezone)
        reads_requests = actor.kind == "system" or actor.role in _REQUEST_READERS
        reads_log = actor.kind == "system" or actor.role in LOG_READERS
        with self.transaction() as connection:
            requests: dict[str, Any] = (
                self._open_requests(connection, actor, now, zone) if reads_requests else {}
            )
            board = Dashboard(
                now=now,
                requests_by_state=requests.get("by_state"),
                nearest=requests.get("nearest"),
                overdue_requests=requests.get("overdue"),
                requests_per_week=requests.get("per_week"),
                open_alerts=self._open_alerts(connection, zone) if reads_log else None,
                accesses_per_purpose=self._accesses(connection, now) if reads_log else None,
                overdue_destructions=(
                    len(self._overdue_ids(connection, now)) if reads_log else None
                ),
                expiring=self._expiring(connection, now) if reads_log else None,
                retention_timeline=self._timeline(connection, now, zone) if reads_log else None,
                head=self._head(connection),
            )
            self._record(connection, actor, "dashboard")
        return board

    def _overdue_ids(self, connection: Connection, now: datetime) -> list[str]:
        sweeper = Sweeper(self.database, policy=self.policy.policy, name="dashboard")
        return sweeper.overdue(connection, now, limit=1000)

    def _open_requests(
        self, connection: Connection, actor: Actor, now: datetime, zone: ZoneInfo
    ) -> dict[str, Any]:
        open_rows = connection.execute(
            select(rights_requests)
            .where(
                rights_requests.c.purged_at.is_(None),
                rights_requests.c.state.not_in([state.value for state in CLOSED]),
            )
            .order_by(rights_requests.c.due_at, rights_requests.c.id)
            .limit(_OPEN_LISTED)
        ).all()
        handler = actor.role == Role.HANDLER.value

        def visible(row: Any) -> bool:
            purposes = request_rows.purposes_of(row)
            return not handler or all(actor.may_serve(p) for p in purposes)

        shown = [row for row in open_rows if visible(row)]
        by_state: dict[str, int] = {}
        for row in shown:
            by_state[row.state] = by_state.get(row.state, 0) + 1
        today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        first_week = today - timedelta(days=today.weekday(), weeks=_WEEKS - 1)
        received = connection.execute(
            select(rights_requests.c.received_at, rights_requests.c.purposes)
            .where(rights_requests.c.received_at >= first_week)
            .limit(20 * _OPEN_LISTED)
        ).all()
        weeks = {(first_week + timedelta(weeks=n)).strftime("%m-%d"): 0 for n in range(_WEEKS)}
        for row in received:
            if visible(row):
                index = (row.received_at.astimezone(zone) - first_week).days // 7
                label = (first_week + timedelta(weeks=index)).strftime("%m-%d")
                if label in weeks:
                    weeks[label] += 1
        return {
            "by_state": by_state,
            "nearest": [request_rows.info(connection, row) for row in shown[:10]],
            "overdue": sum(1 for row in shown if row.due_at < now),
            "per_week": weeks,
        }

    def _open_alerts(self, connection: Connection, zone: ZoneInfo) -> list[Alert]:
        """Alerts of months whose review is not yet signed off."""
        reviewed = set(connection.execute(select(audit_reviews.c.month).distinct()).scalars())
        return [
            alert
            for alert in list_alerts(connection, limit=500)
            if alert.raised_at.astimezone(zone).strftime("%Y-%m") not in reviewed
        ][:50]

    def _accesses(self, connection: Connection, now: datetime) -> dict[str, int]:
        rows = connection.execute(
            select(audit_events.c.purpose, func.count())
            .where(
                audit_events.c.occurred_at >= now - timedelta(days=30),
                audit_events.c.action.in_(sorted(READ_ACTIONS)),
                audit_events.c.outcome == "allowed",
                audit_events.c.purpose.is_not(None),
            )
            .group_by(audit_events.c.purpose)
            .order_by(audit_events.c.purpose)
        ).all()
        return {row[0]: int(row[1]) for row in rows}

    def _expiring(self, connection: Connection, now: datetime) -> dict[str, int]:
        rows = connection.execute(
            select(collections.c.purpose, func.count())
            .where(
                collections.c.state.in_(_LIVE),
                collections.c.expires_at >= now,
                collections.c.expires_at < now + timedelta(days=_EXPIRING_DAYS),
            )
            .group_by(collections.c.purpose)
            .order_by(collections.c.purpose)
        ).all()
        return {row[0]: int(row[1]) for row in rows}

    def _timeline(self, connection: Connection, now: datetime, zone: ZoneInfo) -> dict[str, int]:
        """Live collections by the month their retention ends, this month and the next 11."""
        starts = [_month_start(now.astimezone(zone))]
        for _ in range(_MONTHS):
            starts.append(_next_month(starts[-1]))
        counts = [
            func.count(
                case(((collections.c.expires_at >= start) & (collections.c.expires_at < end), 1))
            )
            for start, end in pairwise(starts)
        ]
        row = connection.execute(
            select(*counts).where(
                collections.c.state.in_(_LIVE),
                collections.c.expires_at >= starts[0],
                collections.c.expires_at < starts[-1],
            )
        ).one()
        months = [start.strftime("%Y-%m") for start in starts[:-1]]
        return {month: int(value) for month, value in zip(months, row, strict=True)}

    def _head(self, connection: Connection) -> HeadStatus | None:
        row = latest_head(connection)
        if row is None:
            return None
        head = row_to_head(row)
        return HeadStatus(
            size=head.size,
            signed_at=head.signed_at,
            root=head.root.hex(),
            signature_ok=self.signer.verify(head),
        )
