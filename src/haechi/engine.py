"""``haechi.Engine``: the Python API every surface (CLI, HTTP) is built on.

The engine owns transactions: each public method runs in one, so a change and the
audit event that records it commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.exc import IntegrityError

from haechi.access import sessions
from haechi.access import staff as accounts
from haechi.access.decision import Actor, Reason
from haechi.access.passwords import Passwords
from haechi.access.sessions import SESSION_PREFIX, LoginResult
from haechi.access.staff import GrantChange, NewCredentials, Role, StaffInfo, require_role
from haechi.access.tokens import TokenInfo, authenticate, create_token, list_tokens, revoke_token
from haechi.access.totp import TotpBox
from haechi.audit.events import AuditEvent, list_events, record_event
from haechi.audit.monitor import Alert, MonitorRules, list_alerts, run_monitors
from haechi.audit.prune import PruneResult, prune_log
from haechi.audit.review import MonthlyReview, monthly_review, record_review
from haechi.audit.sealer import SealResult, lock_sealer, row_to_head, seal, seal_on
from haechi.audit.signing import HeadSigner, TreeHead
from haechi.audit.verify import (
    ConsistencyProof,
    InclusionProof,
    VerifyReport,
    prove_consistency,
    prove_inclusion,
    verify_log,
)
from haechi.config import Settings
from haechi.crypto.blind_index import BlindIndex
from haechi.crypto.keys import KeyProvider, LocalKeyProvider
from haechi.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidInput,
    PermissionDenied,
)
from haechi.policy.durations import Period, parse_period
from haechi.policy.loader import LoadedPolicy, load_policy
from haechi.policy.schema import IdentifierFormat, ItemKind, Policy
from haechi.retention import records
from haechi.retention.destruction import ShredResult, shred_collection
from haechi.retention.records import BatchInfo, Certificate, PaperRecord
from haechi.retention.sweep import Progress, Sweeper, SweepReport
from haechi.storage.database import create_db_engine
from haechi.storage.migrate import current_revision, head_revision, upgrade
from haechi.storage.prepared import raw_transaction
from haechi.storage.tables import alerts as alerts_table
from haechi.storage.tables import policy_versions, tree_heads
from haechi.storage.tables import subjects as subjects_table
from haechi.subjects import service as subjects
from haechi.subjects.reads import ItemReader
from haechi.subjects.service import CollectionInfo, CollectResult, ConsentEvidence
from haechi.subjects.values import CleanValue

__all__ = ["SYSTEM", "Clock", "Engine", "declared_finding_types", "utc_now"]

Clock = Callable[[], datetime]

SYSTEM = Actor(name="system", kind="system", purposes=frozenset(), all_purposes=True)

# Finding types of the scanner that are unique identifiers (PIPA Art. 24): refused in
# free text unless the policy declares an item for them.
_UNIQUE_IDENTIFIERS = frozenset(
    {
        IdentifierFormat.RRN.value,
        IdentifierFormat.FOREIGN_RRN.value,
        IdentifierFormat.PASSPORT.value,
        IdentifierFormat.DRIVER_LICENSE.value,
    }
)


def declared_finding_types(policy: Policy) -> frozenset[str]:
    """The scanner's finding types the policy declares an item for.

    Emails and phones map to their kinds; identifier items to their format (``rrn``,
    ``passport``…). IP addresses have no item kind, so they are never declared.
    """
    declared: set[str] = set()
    for item in policy.items.values():
        if item.kind is ItemKind.PHONE:
            declared.add("phone")
        elif item.kind is ItemKind.EMAIL:
            declared.add("email")
        elif item.kind is ItemKind.IDENTIFIER and item.format is not None:
            declared.add(item.format.value)
    return frozenset(declared)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Engine:
    """Enforces one policy over one database with one key provider."""

    def __init__(
        self,
        *,
        database: SqlEngine,
        policy: LoadedPolicy,
        keys: KeyProvider,
        settings: Settings | None = None,
        clock: Clock = utc_now,
        signer: HeadSigner | None = None,
    ):
        self.database = database
        self.policy = policy
        self.keys = keys
        # Without a signing key (a library user's in-memory engine) heads are signed
        # with a throwaway key: the log still verifies within this process.
        self.signer = signer or HeadSigner.generate()
        self.settings = settings or Settings()
        self.clock = clock
        self._index = BlindIndex(keys.derive("blind-index-v1"))
        self._reader = ItemReader(database.dialect)
        self._passwords = Passwords(self.settings.auth)
        self._totp = TotpBox(keys, issuer=self.settings.auth.totp_issuer)
        self._register_policy()

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True, clock: Clock = utc_now) -> Engine:
        """Open the installation described by ``settings``, migrating its database."""
        policy = load_policy(settings.policy_path)
        keys = LocalKeyProvider.from_file(settings.master_key_path)
        signer = HeadSigner.from_file(settings.signing_key_path)
        database = create_db_engine(settings.database_url, echo=settings.database.echo)
        if migrate:
            upgrade(database)
        elif current_revision(database) != head_revision():
            raise ConfigurationError("the database schema is not current; run `haechi migrate`")
        return cls(
            database=database,
            policy=policy,
            keys=keys,
            settings=settings,
            clock=clock,
            signer=signer,
        )

    def close(self) -> None:
        """Release database connections."""
        self.database.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed if the block ends normally, rolled back otherwise."""
        with self.database.begin() as connection:
            yield connection

    def _register_policy(self) -> None:
        with self.transaction() as connection:
            known = connection.execute(
                select(policy_versions.c.id).where(policy_versions.c.id == self.policy.version_id)
            ).first()
            if known is None:
                connection.execute(
                    insert(policy_versions).values(
                        id=self.policy.version_id,
                        content_hash=self.policy.content_hash,
                        label=self.policy.policy.version,
                        text=self.policy.text,
                        loaded_at=self.clock(),
                    )
                )

    # -- collection and use -------------------------------------------------------

    def collect(
        self,
        *,
        purpose: str,
        items: Mapping[str, object],
        consent: ConsentEvidence,
        channel: str = "api",
        source: str | None = None,
        actor: Actor = SYSTEM,
    ) -> CollectResult:
        """Collect ``items`` for ``purpose`` with ``consent``, or refuse with a reason."""
        if not actor.may_serve(purpose):
            with self.transaction() as connection:
                refusal = self._refused(
                    connection,
                    actor=actor,
                    action="collect",
                    purpose=purpose,
                    source_ip=consent.source_ip,
                )
            assert refusal is not None
            raise refusal
        declared, values = subjects.validate_collection(
            self.policy.policy, purpose=purpose, values=items, consent=consent
        )
        self._refuse_identifiers_in_text(values)
        for attempt in range(3):
            try:
                with self.transaction() as connection:
                    return subjects.collect(
                        connection,
                        policy=self.policy,
                        keys=self.keys,
                        index=self._index,
                        purpose=declared,
                        purpose_id=purpose,
                        values=values,
                        consent=consent,
                        channel=channel,
                        source=source,
                        actor=actor,
                        now=self.clock(),
                    )
            except IntegrityError:
                # Two collections for the same new person raced to create the
                # subject; the loser retries and finds the winner's subject.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _refuse_identifiers_in_text(self, values: Mapping[str, CleanValue]) -> None:
        if not self.settings.collect.refuse_identifiers_in_text:
            return
        from haechi.discovery import find_identifiers

        refused = _UNIQUE_IDENTIFIERS - declared_finding_types(self.policy.policy)
        for name, value in values.items():
            if self.policy.policy.items[name].kind is not ItemKind.TEXT:
                continue
            for finding in find_identifiers(value.value):
                if finding.type in refused:
                    raise InvalidInput(
                        f"items.{name} holds what looks like a unique identifier "
                        f"({finding.type}), which the policy does not allow",
                        field=f"items.{name}",
                        code="UNIQUE_IDENTIFIER_IN_TEXT",
                    )

    def use(
        self,
        *,
        actor: Actor,
        subject_id: str,
        purpose: str,
        items: list[str] | None = None,
        reason: str | None = None,
        source_ip: str | None = None,
        download: bool = False,
    ) -> dict[str, str]:
        """Read a subject's items for ``purpose``: decided, logged, then decrypted.

        A ``download`` (data leaving the system, e.g. into a file) must give its
        reason; it is logged as such and always raises an alert for review.
        """
        if download and not (reason and reason.strip()):
            raise InvalidInput("a download must give its reason", field="reason")
        with raw_transaction(self.database) as cursor:
            outcome = self._reader.read(
                cursor,
                policy=self.policy.policy,
                keys=self.keys,
                actor=actor,
                subject_id=subject_id,
                purpose=purpose,
                wanted=items,
                reason=reason,
                source_ip=source_ip,
                now=self.clock(),
                action="download" if download else "view",
            )
        if outcome.error is not None:
            raise outcome.error
        return outcome.values

    def _refused(
        self,
        connection: Connection,
        *,
        actor: Actor,
        action: str,
        purpose: str,
        subject_id: str | None = None,
        collection_id: str | None = None,
        source_ip: str | None = None,
    ) -> AccessDenied | None:
        """Record and return a NO_GRANT refusal when ``actor`` lacks ``purpose``."""
        if actor.may_serve(purpose):
            return None
        event_id = record_event(
            connection,
            now=self.clock(),
            actor=actor.name,
            actor_kind=actor.kind,
            action=action,
            outcome="denied",
            code=Reason.NO_GRANT.value,
            subject_id=subject_id,
            collection_id=collection_id,
            purpose=purpose,
            source_ip=source_ip,
        )
        return AccessDenied(
            Reason.NO_GRANT.value, f"no grant for purpose {purpose!r}", audit_event_id=event_id
        )

    def find_subject(
        self, *, actor: Actor, kind: str, value: str, source_ip: str | None = None
    ) -> str | None:
        """The subject with this email or phone, if any; the lookup itself is logged."""
        with self.transaction() as connection:
            subject_id = subjects.find_subject(
                connection, policy=self.policy.policy, index=self._index, kind=kind, value=value
            )
            record_event(
                connection,
                now=self.clock(),
                actor=actor.name,
                actor_kind=actor.kind,
                action="lookup",
                subject_id=subject_id,
                items=[kind],
                source_ip=source_ip,
                code=None if subject_id else "NOT_FOUND",
            )
            return subject_id

    def collection(self, collection_id: str, *, actor: Actor = SYSTEM) -> CollectionInfo:
        """A collection's metadata, for an actor granted its purpose."""
        with self.transaction() as connection:
            info = subjects.get_collection(connection, collection_id)
            refusal = self._refused(
                connection,
                actor=actor,
                action="view_collection",
                purpose=info.purpose,
                subject_id=info.subject_id,
                collection_id=collection_id,
            )
        if refusal is not None:
            raise refusal
        return info

    # -- states: holds, suspension, withdrawal, destruction ----------------------

    def _change(
        self, action: str, actor: Actor, collection_id: str, change: Callable[[Connection], Any]
    ) -> Any:
        with self.transaction() as connection:
            info = subjects.get_collection(connection, collection_id)
            refusal = self._refused(
                connection,
                actor=actor,
                action=action,
                purpose=info.purpose,
                subject_id=info.subject_id,
                collection_id=collection_id,
            )
            if refusal is None:
                result = change(connection)
                record_event(
                    connection,
                    now=self.clock(),
                    actor=actor.name,
                    actor_kind=actor.kind,
                    action=action,
                    subject_id=info.subject_id,
                    collection_id=collection_id,
                    purpose=info.purpose,
                )
        if refusal is not None:
            raise refusal
        return result

    def place_hold(self, collection_id: str, *, reason: str, actor: Actor = SYSTEM) -> str:
        """Stop use of a collection until released (e.g. a correction is pending)."""
        now = self.clock()
        hold_id: str = self._change(
            "hold",
            actor,
            collection_id,
            lambda c: subjects.place_hold(
                c, collection_id=collection_id, reason=reason, placed_by=actor.name, now=now
            ),
        )
        return hold_id

    def release_hold(self, collection_id: str, hold_id: str, *, actor: Actor = SYSTEM) -> None:
        """Release a hold placed by :meth:`place_hold`."""
        now = self.clock()
        self._change(
            "release_hold",
            actor,
            collection_id,
            lambda c: subjects.release_hold(c, hold_id=hold_id, now=now),
        )

    def suspend(self, collection_id: str, *, actor: Actor = SYSTEM) -> None:
        """Suspend processing at the subject's request."""
        now = self.clock()
        self._change(
            "suspend",
            actor,
            collection_id,
            lambda c: subjects.set_suspended(
                c, collection_id=collection_id, suspended=True, now=now
            ),
        )

    def resume(self, collection_id: str, *, actor: Actor = SYSTEM) -> None:
        """Lift a suspension."""
        now = self.clock()
        self._change(
            "resume",
            actor,
            collection_id,
            lambda c: subjects.set_suspended(
                c, collection_id=collection_id, suspended=False, now=now
            ),
        )

    def withdraw_consent(
        self,
        collection_id: str,
        *,
        method: str = "api",
        source_ip: str | None = None,
        actor: Actor = SYSTEM,
    ) -> None:
        """Record the subject's withdrawal of consent; use stops at once."""
        now = self.clock()
        self._change(
            "withdraw_consent",
            actor,
            collection_id,
            lambda c: subjects.withdraw_consent(
                c,
                policy=self.policy,
                collection_id=collection_id,
                method=method,
                source_ip=source_ip,
                now=now,
            ),
        )

    def destroy(self, collection_id: str, *, actor: Actor = SYSTEM) -> ShredResult:
        """Crypto-shred one collection now, with a certificate of its own."""
        now = self.clock()

        def shred(connection: Connection) -> ShredResult:
            result = shred_collection(connection, collection_id=collection_id, now=now)
            if not result.already_destroyed:
                records.certify_manual(
                    connection,
                    collection_id=collection_id,
                    subject_id=result.subject_id,
                    purpose=result.purpose,
                    item_names=result.item_names,
                    destroyed_by=actor.name,
                    now=now,
                )
            return result

        result: ShredResult = self._change("destroy", actor, collection_id, shred)
        return result

    def mark_accomplished(self, collection_id: str, *, actor: Actor = SYSTEM) -> None:
        """Record that a collection's purpose is accomplished; the sweep destroys it."""
        now = self.clock()
        self._change(
            "accomplished",
            actor,
            collection_id,
            lambda c: records.mark_accomplished(c, collection_id=collection_id, now=now),
        )

    # -- retention: the sweep and destruction records -------------------------------

    def sweeper(self, *, name: str = "sweep") -> Sweeper:
        """A sweeper over this engine's database and policy."""
        return Sweeper(
            self.database,
            policy=self.policy.policy,
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

        The sweep is a job: it commits chunk by chunk, never all at once.
        """
        moment = now or self.clock()
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

    def certificates(self, *, batch_id: str | None = None, limit: int = 1000) -> list[Certificate]:
        """Destruction certificates, newest first."""
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

    # -- tokens and the log -------------------------------------------------------

    def create_token(
        self, *, name: str, purposes: list[str], created_by: str = "cli"
    ) -> tuple[TokenInfo, str]:
        """Make an API token limited to ``purposes``; the secret is returned once."""
        with self.transaction() as connection:
            info, secret = create_token(
                connection,
                name=name,
                purposes=purposes,
                declared_purposes=set(self.policy.policy.purposes)
                | set(self.policy.policy.hold_purposes),
                created_by=created_by,
                now=self.clock(),
            )
            record_event(
                connection,
                now=self.clock(),
                actor=created_by,
                actor_kind="staff",
                action="token_create",
                reason=f"token {name} for {', '.join(info.purposes)}",
            )
            return info, secret

    def revoke_token(self, name: str, *, revoked_by: str = "cli") -> None:
        """Revoke a token; its next call is refused."""
        with self.transaction() as connection:
            revoke_token(connection, name=name, now=self.clock())
            record_event(
                connection,
                now=self.clock(),
                actor=revoked_by,
                actor_kind="staff",
                action="token_revoke",
                reason=f"token {name}",
            )

    def tokens(self) -> list[TokenInfo]:
        """Every API token, without secrets."""
        with self.transaction() as connection:
            return list_tokens(connection)

    def authenticate(self, secret: str, *, password_change: bool = False) -> Actor:
        """The actor behind an API token or staff session secret, as it stands now.

        A staff session's role and grants are read on every call, so a revocation
        bites on the very next one; an idle session ends (see :mod:`haechi.access.sessions`).
        """
        if not secret.startswith(SESSION_PREFIX):
            with self.database.connect() as connection:
                return authenticate(connection, secret)
        with self.transaction() as connection:
            result = sessions.authenticate_session(
                connection,
                secret=secret,
                auth=self.settings.auth,
                now=self.clock(),
                password_change=password_change,
            )
        if result.error is not None:
            raise result.error
        assert result.actor is not None
        return result.actor

    def events(self, *, subject_id: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """The newest audit events."""
        with self.transaction() as connection:
            return list_events(connection, subject_id=subject_id, limit=limit)

    # -- the tamper-evident log ---------------------------------------------------

    def seal(self) -> SealResult:
        """Seal committed events under a new signed tree head (if any are waiting)."""
        audit = self.settings.audit
        return seal(
            self.database,
            self.signer,
            now=self.clock,
            batch=audit.seal_batch,
            margin=timedelta(seconds=audit.seal_margin_seconds),
        )

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
        """The access log's retention: the policy's, raised to two years for large holders."""
        declared = self.policy.policy.access_log.retention_period
        if self.subject_count() >= self.settings.audit.large_installation_subjects:
            floor = parse_period("P2Y")
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
            seal_on(connection, self.signer, now=self.clock, batch=self.settings.audit.seal_batch)
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
                seal_on(connection, self.signer, now=self.clock, batch=1)
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
        """Evaluate the monitors over new events; return the alerts raised."""
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

    # -- staff: accounts, grants, logins -------------------------------------------
    # Who may do what is in the docstring of haechi.access.staff: the privacy officer
    # widens access; the admin may only narrow it; auditors and admins read.

    def _staff_change(
        self, action: str, actor: Actor, roles: tuple[Role, ...], change: Callable[..., Any]
    ) -> Any:
        """Run ``change(connection, now)`` for an actor holding one of ``roles``.

        A refusal is itself an audit event, committed before the error is raised.
        """
        with self.transaction() as connection:
            now = self.clock()
            try:
                require_role(actor, *roles)
            except PermissionDenied as refusal:
                record_event(
                    connection,
                    now=now,
                    actor=actor.name,
                    actor_kind=actor.kind,
                    action=action,
                    outcome="denied",
                    code=refusal.code,
                )
                error = refusal
            else:
                return change(connection, now)
        raise error

    def add_staff(
        self,
        *,
        username: str,
        role: Role | str,
        purposes: list[str] | None = None,
        reason: str = "new account",
        actor: Actor = SYSTEM,
    ) -> NewCredentials:
        """Create an account; its one-time password and TOTP enrolment URI are shown once."""
        checked = _role(role)
        credentials: NewCredentials = self._staff_change(
            "staff_create",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.create_staff(
                c,
                username=username,
                role=checked,
                purposes=purposes or [],
                declared_purposes=set(self.policy.policy.purposes),
                passwords=self._passwords,
                totp=self._totp,
                by=actor,
                reason=reason,
                now=now,
            ),
        )
        return credentials

    def grant_staff(
        self, username: str, *, purposes: list[str], reason: str, actor: Actor = SYSTEM
    ) -> list[str]:
        """Grant a handler purposes; return those newly granted."""
        granted: list[str] = self._staff_change(
            "staff_grant",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.grant_purposes(
                c,
                username=username,
                purposes=purposes,
                declared_purposes=set(self.policy.policy.purposes),
                by=actor,
                reason=reason,
                now=now,
            ),
        )
        return granted

    def revoke_staff(
        self, username: str, *, purposes: list[str], reason: str, actor: Actor = SYSTEM
    ) -> None:
        """Revoke grants; the account's very next call is refused them."""
        self._staff_change(
            "staff_revoke",
            actor,
            (Role.PRIVACY_OFFICER, Role.ADMIN),
            lambda c, now: accounts.revoke_purposes(
                c, username=username, purposes=purposes, by=actor, reason=reason, now=now
            ),
        )

    def disable_staff(self, username: str, *, reason: str, actor: Actor = SYSTEM) -> None:
        """Close an account (a leaver): grants revoked, sessions ended, logins refused."""
        self._staff_change(
            "staff_revoke",
            actor,
            (Role.PRIVACY_OFFICER, Role.ADMIN),
            lambda c, now: accounts.disable_staff(
                c, username=username, by=actor, reason=reason, now=now
            ),
        )

    def change_staff_role(
        self, username: str, *, role: Role | str, reason: str, actor: Actor = SYSTEM
    ) -> None:
        """Change an account's role (a handler's grants go with its old role)."""
        checked = _role(role)
        self._staff_change(
            "staff_role_change",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.set_role(
                c, username=username, role=checked, by=actor, reason=reason, now=now
            ),
        )

    def unlock_staff(
        self, username: str, *, reason: str = "unlocked", actor: Actor = SYSTEM
    ) -> None:
        """Lift the lockout that failed logins put on an account."""
        self._staff_change(
            "staff_unlock",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.unlock_staff(
                c, username=username, by=actor, reason=reason, now=now
            ),
        )

    def reset_staff_password(
        self,
        username: str,
        *,
        new_totp: bool = False,
        reason: str = "password reset",
        actor: Actor = SYSTEM,
    ) -> NewCredentials:
        """A new one-time password (and TOTP secret if asked); the account's sessions end."""
        credentials: NewCredentials = self._staff_change(
            "staff_password_reset",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.reset_password(
                c,
                username=username,
                passwords=self._passwords,
                totp=self._totp,
                new_totp=new_totp,
                by=actor,
                reason=reason,
                now=now,
            ),
        )
        return credentials

    def staff(self, *, actor: Actor = SYSTEM) -> list[StaffInfo]:
        """Every staff account with its role and grants (never secrets)."""
        require_role(actor, Role.PRIVACY_OFFICER, Role.ADMIN, Role.AUDITOR)
        with self.transaction() as connection:
            return accounts.list_staff(connection)

    def grant_history(
        self, *, username: str | None = None, limit: int = 1000, actor: Actor = SYSTEM
    ) -> list[GrantChange]:
        """The append-only history of grants, role changes and revocations."""
        require_role(actor, Role.PRIVACY_OFFICER, Role.ADMIN, Role.AUDITOR)
        with self.transaction() as connection:
            return accounts.grant_history(connection, username=username, limit=limit)

    def login(
        self,
        *,
        username: str,
        password: str,
        totp: str | None = None,
        source_ip: str | None = None,
    ) -> LoginResult:
        """Open a staff session, or refuse (the failure is counted and logged first)."""
        with self.transaction() as connection:
            result = sessions.login(
                connection,
                username=username,
                password=password,
                totp_code=totp,
                source_ip=source_ip,
                passwords=self._passwords,
                totp=self._totp,
                auth=self.settings.auth,
                now=self.clock(),
            )
        if result.error is not None:
            raise result.error
        return result

    def logout(self, secret: str) -> None:
        """End a staff session."""
        with self.transaction() as connection:
            sessions.logout(connection, secret=secret, now=self.clock())

    def change_password(self, *, actor: Actor, current_password: str, new_password: str) -> None:
        """Replace a staff member's own password (required after a one-time password)."""
        if actor.kind != "staff" or actor.id is None:
            raise PermissionDenied("only a staff session has a password", code="ROLE_REQUIRED")
        staff_id = actor.id
        with self.transaction() as connection:
            refusal = sessions.change_password(
                connection,
                staff_id=staff_id,
                current_password=current_password,
                new_password=new_password,
                passwords=self._passwords,
                now=self.clock(),
            )
        if refusal is not None:
            raise refusal


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise InvalidInput(f"role must be one of {names}", field="role") from None
