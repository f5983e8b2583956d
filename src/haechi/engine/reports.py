"""The quarterly in-house audit: the report, staff training and the safeguards register."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from haechi.access.decision import Actor
from haechi.access.staff import Role, require_role, staff_row
from haechi.engine.access import AccessMixin
from haechi.engine.log import LogMixin
from haechi.errors import NotFound
from haechi.reports import (
    QUARTER_MEASURE,
    REPORT_TIMEZONE,
    Attestation,
    Quarter,
    QuarterlyFigures,
    TrainingRecord,
    list_attestations,
    list_training,
    parse_quarter,
    quarterly_figures,
    record_attestation,
    record_training,
)
from haechi.reports.register import register_view, untrained

__all__ = ["ReportsMixin"]

_READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR)


class ReportsMixin(LogMixin, AccessMixin):
    """The quarterly report and the register it attests (reference policy §6)."""

    def _declared_measures(self) -> list[str]:
        return [measure.kind.value for measure in self.policy.policy.safety_measures]

    def quarterly_report(self, quarter: str, *, actor: Actor) -> QuarterlyFigures:
        """Every figure of ``quarter`` (YYYYQn, Korean time), the register included.

        Reading it is an audit event (``report_read``); the access log is verified first
        and its result is one of the figures.
        """
        require_role(actor, *_READERS)
        period = parse_quarter(quarter)
        verified = self.verify_log()
        verification = {
            "ok": verified.ok,
            "size": verified.size,
            "heads": verified.heads,
            "leaves_checked": verified.leaves_checked,
            "problems": len(verified.problems),
        }
        now = self.clock()
        with self.transaction() as connection:
            figures = quarterly_figures(
                connection,
                period,
                purposes=list(self.policy.policy.purposes),
                verification=verification,
                now=now,
            )
            figures.register = self._register(connection, period)
            self._record(
                connection,
                actor,
                "report_read",
                now=now,
                reason=f"quarterly report {period.name}",
            )
        return figures

    def add_training(
        self, username: str, *, course: str, taken_on: date, actor: Actor
    ) -> TrainingRecord:
        """Record that ``username`` completed ``course`` on ``taken_on`` (an audit event)."""

        def change(connection: Connection, now: datetime) -> int:
            row = staff_row(connection, username)
            if row is None:
                raise NotFound("no staff account by that name", field="username")
            today = self.clock().astimezone(ZoneInfo(REPORT_TIMEZONE)).date()
            record_id = record_training(
                connection,
                staff_id=str(row.id),  # type: ignore[attr-defined]
                username=username,
                course=course,
                taken_on=taken_on,
                recorded_by=actor.name,
                now=now,
                today=today,
            )
            self._record(
                connection,
                actor,
                "training_record",
                reason=f"training record {record_id} of {taken_on.isoformat()}",
            )
            return record_id

        record_id: int = self._staff_change(
            "training_record", actor, (Role.PRIVACY_OFFICER,), change
        )
        return next(one for one in self.training(actor=actor) if one.id == record_id)

    def training(self, *, actor: Actor) -> list[TrainingRecord]:
        """Every training record, by date."""
        require_role(actor, *_READERS, Role.ADMIN)
        with self.database.connect() as connection:
            return list_training(connection)

    def attest(
        self, quarter: str, *, measure: str = QUARTER_MEASURE, note: str, actor: Actor
    ) -> Attestation:
        """The privacy officer confirms a declared measure for ``quarter``, or the quarter.

        Every attestation is an audit event (``safeguard_attest``) naming the quarter and
        the measure; the note stays in the register.
        """
        period = parse_quarter(quarter)
        declared = frozenset(self._declared_measures())

        def change(connection: Connection, now: datetime) -> int:
            attestation_id = record_attestation(
                connection,
                quarter=period,
                measure=measure,
                declared=declared,
                note=note,
                attested_by=actor.name,
                now=now,
            )
            self._record(
                connection,
                actor,
                "safeguard_attest",
                reason=f"{period.name} {measure}",
            )
            return attestation_id

        found: int = self._staff_change("safeguard_attest", actor, (Role.PRIVACY_OFFICER,), change)
        return next(one for one in self.attestations(quarter, actor=actor) if one.id == found)

    def attestations(self, quarter: str, *, actor: Actor) -> list[Attestation]:
        """The quarter's attestations, oldest first."""
        require_role(actor, *_READERS)
        period = parse_quarter(quarter)
        with self.database.connect() as connection:
            return list_attestations(connection, period)

    def safeguards_register(self, quarter: str, *, actor: Actor) -> dict[str, object]:
        """Each declared measure confirmed or missing for ``quarter``, and its training."""
        require_role(actor, *_READERS)
        period = parse_quarter(quarter)
        with self.database.connect() as connection:
            return self._register(connection, period)

    def _register(self, connection: Connection, period: Quarter) -> dict[str, object]:
        return register_view(
            self._declared_measures(),
            list_attestations(connection, period),
            list_training(connection, since=period.first_day, until=period.end_day),
            untrained(connection, period),
        )
