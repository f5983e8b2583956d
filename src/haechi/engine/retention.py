"""Retention: the sweep, destruction batches, certificates and paper records."""

from __future__ import annotations

from datetime import datetime

from haechi.audit.events import record_event
from haechi.engine.policy import PolicyMixin
from haechi.errors import InvalidInput
from haechi.retention import records
from haechi.retention.records import BatchInfo, Certificate, PaperRecord
from haechi.retention.sweep import Progress, Sweeper, SweepReport

__all__ = ["RetentionMixin"]


class RetentionMixin(PolicyMixin):
    """Retention: the sweep, destruction batches, certificates and paper records.

    It builds on the published versions (:class:`PolicyMixin`): the sweep first applies
    a version's narrowed retention.
    """

    # -- retention: the sweep and destruction records -------------------------------

    def sweeper(self, *, name: str = "sweep") -> Sweeper:
        """A sweeper over this engine's database and policy."""
        return Sweeper(
            self.database,
            policy=self.policy.policy,
            keys=self.keys,
            name=name,
            chunk_size=self.settings.retention.chunk_size,
        )

    def sweep(
        self,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
        name: str = "sweep",
    ) -> SweepReport:
        """Separate and destroy what is due (see :mod:`haechi.retention.sweep`).

        The sweep is a job: it commits chunk by chunk, never all at once. ``now``
        other than the engine's clock is for a dry run only: a real sweep destroys
        what is due now and stamps its records with the true time.
        """
        if now is not None and now.tzinfo is None:
            raise InvalidInput("now must carry a UTC offset", field="now")
        real = self.clock()
        if now is not None and now != real and not dry_run:
            raise InvalidInput("a sweep at another time than now must be a dry run", field="now")
        moment = now or real
        if not dry_run:
            # A version that came into force with a shorter retention moves expiries
            # forward first, so that this sweep already destroys what is due under it.
            self.apply_policy_changes()
        report = self.sweeper(name=name).run(now=moment, dry_run=dry_run, progress=progress)
        if report.overdue and not dry_run:
            with self.transaction() as connection:
                record_event(
                    connection,
                    now=moment,
                    actor=name,
                    actor_kind="system",
                    action="retention_alert",
                    outcome="denied",
                    code="OVERDUE",
                    reason=f"{report.overdue} collection(s) were overdue for destruction",
                )
        return report

    def overdue(self, *, now: datetime | None = None, limit: int = 100) -> list[str]:
        """Ids of collections whose destruction is past due + grace."""
        with self.transaction() as connection:
            return self.sweeper().overdue(connection, now or self.clock(), limit=limit)

    def destruction_batches(self, *, awaiting_only: bool = False) -> list[BatchInfo]:
        """Destruction batches, newest first (those awaiting confirmation when asked)."""
        with self.transaction() as connection:
            return records.list_batches(connection, awaiting_only=awaiting_only)

    def destruction_batch(self, batch_id: str) -> tuple[BatchInfo, list[Certificate]]:
        """One destruction batch and all its certificates: what the officer confirms."""
        with self.transaction() as connection:
            batch = records.get_batch(connection, batch_id=batch_id)
            return batch, records.certificates(connection, batch_id=batch_id, limit=None)

    def certificates(
        self, *, batch_id: str | None = None, limit: int | None = 1000
    ) -> list[Certificate]:
        """Destruction certificates, newest first (``limit=None``: all of them)."""
        with self.transaction() as connection:
            return records.certificates(connection, batch_id=batch_id, limit=limit)

    def certificate_for(self, collection_id: str) -> str | None:
        """The certificate id of a destroyed collection."""
        with self.transaction() as connection:
            return records.certificate_for(connection, collection_id)

    def confirm_destruction(self, batch_id: str, *, by: str) -> BatchInfo:
        """Record the privacy officer's confirmation of a destruction batch."""
        now = self.clock()
        with self.transaction() as connection:
            batch = records.confirm_batch(connection, batch_id=batch_id, confirmed_by=by, now=now)
            record_event(
                connection,
                now=now,
                actor=by,
                actor_kind="staff",
                action="confirm_destruction",
                reason=f"batch {batch_id} ({batch.destroyed} collections)",
            )
            return batch

    def record_paper(
        self,
        *,
        description: str,
        method: str,
        destroyed_by: str,
        witness: str,
        destroyed_at: datetime | None = None,
    ) -> PaperRecord:
        """Register destroyed paper documents (shredding or incineration, with a witness)."""
        now = self.clock()
        with self.transaction() as connection:
            record = records.record_paper(
                connection,
                description=description,
                method=method,
                destroyed_by=destroyed_by,
                witness=witness,
                destroyed_at=destroyed_at or now,
                now=now,
                declared=self.policy.policy.destruction.paper,
            )
            record_event(
                connection,
                now=now,
                actor=destroyed_by,
                actor_kind="staff",
                action="destroy_paper",
                reason=f"paper record {record.id} ({record.method.value})",
            )
            return record

    def paper_records(self) -> list[PaperRecord]:
        """Paper destructions, newest first."""
        with self.transaction() as connection:
            return records.list_paper(connection)
