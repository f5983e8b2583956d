"""The tamper-evident log: sealing, verification, proofs, pruning, monitors, review."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update

from haechi.audit.events import record_event
from haechi.audit.monitor import Alert, MonitorRules, list_alerts, run_monitors
from haechi.audit.prune import PruneResult, prune_log
from haechi.audit.review import MonthlyReview, monthly_review, record_review
from haechi.audit.sealer import SealResult, lock_sealer, row_to_head, seal, seal_on
from haechi.audit.signing import TreeHead
from haechi.audit.verify import (
    ConsistencyProof,
    InclusionProof,
    VerifyReport,
    prove_consistency,
    prove_inclusion,
    verify_log,
)
from haechi.engine.base import EngineBase
from haechi.policy.durations import Period, parse_period
from haechi.policy.schema import LARGE_LOG_RETENTION
from haechi.storage.tables import alerts as alerts_table
from haechi.storage.tables import subjects as subjects_table
from haechi.storage.tables import tree_heads

__all__ = ["LogMixin"]


class LogMixin(EngineBase):
    """The tamper-evident log: sealing, verification, proofs, pruning, monitors, review."""

    # -- the tamper-evident log ---------------------------------------------------

    def seal(self) -> SealResult:
        """Seal committed events under a new signed tree head (if any are waiting)."""
        return seal(
            self.database,
            self.signer,
            now=self.clock,
            batch=self.settings.audit.seal_batch,
            margin=self._seal_margin(),
        )

    def _seal_margin(self) -> timedelta:
        return timedelta(seconds=self.settings.audit.seal_margin_seconds)

    def seal_all(self) -> int:
        """Seal until nothing is waiting; return how many events were sealed."""
        total = 0
        while True:
            result = self.seal()
            total += result.sealed
            if result.sealed < self.settings.audit.seal_batch:
                return total

    def verify_log(self, *, witness: list[TreeHead] | None = None) -> VerifyReport:
        """Recompute every leaf and root; check every head (and a witness's heads)."""
        with self.database.connect() as connection:
            return verify_log(connection, self.signer, witness=witness or [])

    def prove(self, event_id: int) -> InclusionProof:
        """The inclusion proof of one event in the newest tree head."""
        with self.database.connect() as connection:
            return prove_inclusion(connection, event_id)

    def consistency(self, old: int, new: int) -> ConsistencyProof:
        """The consistency proof between two tree heads."""
        with self.database.connect() as connection:
            return prove_consistency(connection, old, new)

    def tree_heads(self) -> list[TreeHead]:
        """Every signed tree head, oldest first."""
        with self.database.connect() as connection:
            rows = connection.execute(select(tree_heads).order_by(tree_heads.c.size))
            return [row_to_head(row) for row in rows]

    def subject_count(self) -> int:
        """How many subjects the installation holds."""
        with self.database.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(subjects_table)).scalar_one()
            )

    def log_retention(self) -> Period:
        """The access log's retention: the policy's, raised to two years where the law says.

        The Standards on safeguards (Art. 8) keep access records two years, not one,
        for a controller of 50,000 subjects or more, and for one that processes unique
        identifiers or sensitive information, whatever its size.
        """
        declared = self.policy.policy.access_log.retention_period
        if self.policy.policy.holds_special_items or (
            self.subject_count() >= self.settings.audit.large_installation_subjects
        ):
            floor = parse_period(LARGE_LOG_RETENTION)
            if floor.approx_days > declared.approx_days:
                return floor
        return declared

    def prune_log(self, *, now: datetime | None = None) -> PruneResult:
        """Remove access-log events older than the retention, at a sealed boundary."""
        moment = now or self.clock()
        cutoff = self.log_retention().before(moment)
        with self.transaction() as connection:
            lock_sealer(connection)
            # Seal what is waiting first, so that the new boundary's head is current.
            margin = self._seal_margin()
            seal_on(
                connection,
                self.signer,
                now=self.clock,
                batch=self.settings.audit.seal_batch,
                margin=margin,
            )
            result = prune_log(connection, cutoff=cutoff)
            if result.events_removed:
                record_event(
                    connection,
                    now=moment,
                    actor="system",
                    actor_kind="system",
                    action="log_prune",
                    reason=f"removed {result.events_removed} events below leaf {result.boundary}",
                )
                seal_on(connection, self.signer, now=self.clock, batch=1, margin=margin)
            return result

    # -- monitors and the monthly review ------------------------------------------

    def monitor_rules(self) -> MonitorRules:
        """The monitors' thresholds from the settings."""
        monitor = self.settings.monitor
        return MonitorRules(
            distinct_subjects_per_hour=monitor.distinct_subjects_per_hour,
            denied_burst=monitor.denied_burst,
            denied_window=timedelta(minutes=monitor.denied_window_minutes),
            failed_logins=monitor.failed_logins,
            failed_login_window=timedelta(minutes=monitor.failed_login_window_minutes),
            workday_start=time.fromisoformat(monitor.workday_start),
            workday_end=time.fromisoformat(monitor.workday_end),
            workdays=frozenset(monitor.workdays),
            timezone=monitor.timezone,
        )

    def run_monitors(self) -> list[Alert]:
        """Seal what is waiting, evaluate the monitors over it; return the alerts raised."""
        self.seal_all()
        with self.transaction() as connection:
            return run_monitors(connection, self.monitor_rules(), now=self.clock())

    def alerts(self, *, unmailed: bool = False, limit: int = 500) -> list[Alert]:
        """Stored alerts, newest first."""
        with self.database.connect() as connection:
            return list_alerts(connection, unmailed=unmailed, limit=limit)

    def mark_mailed(self, alert_ids: list[int]) -> None:
        """Record that these alerts were mailed."""
        with self.transaction() as connection:
            connection.execute(
                update(alerts_table)
                .where(alerts_table.c.id.in_(alert_ids))
                .values(mailed_at=self.clock())
            )

    def review(self, month: str) -> MonthlyReview:
        """The month's accesses per actor, with its alerts and recorded reviews."""
        with self.database.connect() as connection:
            return monthly_review(connection, month, timezone=self.settings.monitor.timezone)

    def record_review(self, month: str, *, reviewer: str, notes: str = "") -> None:
        """Record the privacy officer's inspection of a month (itself an audit event)."""
        with self.transaction() as connection:
            record_review(connection, month=month, reviewer=reviewer, notes=notes, now=self.clock())
            record_event(
                connection,
                now=self.clock(),
                actor=reviewer,
                actor_kind="staff",
                action="log_review",
                reason=f"monthly review of {month}",
            )
