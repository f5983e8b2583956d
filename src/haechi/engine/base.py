"""The engine's core: its parts, its transactions, and the helpers every area shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn, Self

from sqlalchemy import Connection, insert, select
from sqlalchemy import Engine as SqlEngine

from haechi.access.decision import Actor, Reason
from haechi.access.passwords import Passwords
from haechi.access.tokens import TokenReader
from haechi.access.totp import TotpBox
from haechi.audit.events import MAX_REASON, declared_names, personal_data_in, record_event
from haechi.audit.monitor import record_alert
from haechi.audit.signing import HeadSigner
from haechi.config import Settings
from haechi.crypto.blind_index import BlindIndex
from haechi.crypto.keys import KeyProvider, LocalKeyProvider
from haechi.engine.in_force import PolicyVersions
from haechi.errors import (
    AccessDenied,
    ConfigurationError,
    HaechiError,
    IntegrityFailure,
    InvalidInput,
    NotFound,
)
from haechi.policy.loader import LoadedPolicy, load_policy
from haechi.policy.schema import UNIQUE_IDENTIFIERS, ItemKind, Policy
from haechi.storage.database import BACKGROUND_AUTOCHECKPOINT, create_db_engine
from haechi.storage.keyring import CurrentEpochs
from haechi.storage.migrate import current_revision, head_revision, upgrade
from haechi.storage.tables import policy_versions
from haechi.storage.tables import subjects as subjects_table
from haechi.subjects import service as subjects
from haechi.subjects.collector import Collector
from haechi.subjects.reads import ItemReader

__all__ = [
    "SYSTEM",
    "Clock",
    "EngineBase",
    "declared_finding_types",
    "open_key_provider",
    "reason_problem",
    "utc_now",
]
Clock = Callable[[], datetime]

SYSTEM = Actor(name="system", kind="system", purposes=frozenset(), all_purposes=True)

# Finding types of the scanner that are unique identifiers (PIPA Art. 24): refused in
# free text unless the policy declares an item for them.
_UNIQUE_IDENTIFIERS = frozenset(kind.value for kind in UNIQUE_IDENTIFIERS)


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


def reason_problem(reason: str | None, *, download: bool) -> InvalidInput | None:
    """What is wrong with a use's reason, if anything.

    A reason is staff's free text, needed when the log is reviewed: it is kept, so
    it is bounded; a download (data leaving the system) must give one.
    """
    if reason is not None and len(reason) > MAX_REASON:
        return InvalidInput(
            f"a reason has at most {MAX_REASON} characters", field="reason", code="REASON_TOO_LONG"
        )
    if download and not (reason and reason.strip()):
        return InvalidInput(
            "a download must give its reason", field="reason", code="REASON_REQUIRED"
        )
    kind = personal_data_in(reason) if reason else None
    if kind is not None:
        return InvalidInput(
            f"a reason may not hold personal data (it looks like a {kind}): "
            "the access log keeps it in the clear",
            field="reason",
            code="PERSONAL_DATA_IN_REASON",
        )
    return None


def open_key_provider(settings: Settings) -> KeyProvider:
    """The key provider the settings name: the local key directory, or a PKCS#11 token."""
    if settings.keys.provider == "pkcs11":
        from haechi.crypto.pkcs11 import Pkcs11KeyProvider

        return Pkcs11KeyProvider.from_settings(settings.keys)
    return LocalKeyProvider.from_file(
        settings.master_key_path, key_directory=settings.key_directory
    )


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class EngineBase:
    """The parts of an engine: policy, database, keys, signer, settings and clock."""

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
        self.versions = PolicyVersions(database, policy)
        self.keys = keys
        # Without a signing key (a library user's in-memory engine) heads are signed
        # with a throwaway key: the log still verifies within this process.
        self.signer = signer or HeadSigner.generate()
        self.settings = settings or Settings()
        self.clock = clock
        self._index = BlindIndex(keys.derive("blind-index-v1"))
        self._reader = ItemReader(database.dialect)
        self._epochs = CurrentEpochs(database, keys)
        self._collector = Collector(database.dialect, self._epochs)
        self._tokens = TokenReader(database.dialect)
        self._passwords = Passwords(self.settings.auth)
        self._totp = TotpBox(keys, issuer=self.settings.auth.totp_issuer)
        self._register_policy()

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        migrate: bool = True,
        clock: Clock = utc_now,
        serving: bool = False,
    ) -> Self:
        """Open the installation described by ``settings``, migrating its database.

        ``serving``: for a process of ``haechi serve``, whose checkpoint job copies
        SQLite's WAL into the database in the background (``database.
        checkpoint_interval_seconds``); its connections then checkpoint themselves
        only past :data:`~haechi.storage.database.BACKGROUND_AUTOCHECKPOINT` pages,
        and read the file without a memory map (many connections at once).
        """
        policy = load_policy(settings.policy_path)
        keys = open_key_provider(settings)
        signer = HeadSigner.from_file(settings.signing_key_path)
        background = serving and settings.database.checkpoint_interval_seconds > 0
        database = create_db_engine(
            settings.database_url,
            echo=settings.database.echo,
            pool_size=settings.database.pool_size,
            max_overflow=settings.database.max_overflow,
            autocheckpoint=BACKGROUND_AUTOCHECKPOINT if background else None,
            memory_map=not serving,
        )
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

    @property
    def policy(self) -> LoadedPolicy:
        """The policy version in force now (see :mod:`haechi.engine.in_force`)."""
        return self.versions.current(self.clock()).loaded

    def close(self) -> None:
        """Release database connections."""
        self.database.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: committed if the block ends normally, rolled back otherwise.

        The policy in force is settled before it opens (see :mod:`haechi.engine.in_force`).
        """
        self.versions.current(self.clock())
        with self.database.begin() as connection, self.versions.inside_transaction():
            yield connection

    def _register_policy(self) -> None:
        with self.transaction() as connection:
            loaded = self.versions.file_policy
            known = connection.execute(
                select(policy_versions.c.id).where(policy_versions.c.id == loaded.version_id)
            ).first()
            if known is None:
                connection.execute(
                    insert(policy_versions).values(
                        id=loaded.version_id,
                        content_hash=loaded.content_hash,
                        label=loaded.policy.version,
                        text=loaded.text,
                        loaded_at=self.clock(),
                    )
                )

    def _record(
        self,
        connection: Connection,
        actor: Actor,
        action: str,
        *,
        now: datetime | None = None,
        **event: Any,
    ) -> int:
        """Record an event of ``actor`` (see :func:`haechi.audit.events.event_values`).

        The actor's name and kind, the engine's clock unless ``now`` is given, and the
        request's address carried by the actor unless the caller names one.
        """
        event["source_ip"] = event.get("source_ip") or actor.source_ip
        return record_event(
            connection,
            now=now or self.clock(),
            actor=actor.name,
            actor_kind=actor.kind,
            action=action,
            **event,
        )

    def _record_denial(
        self, connection: Connection, actor: Actor, action: str, code: str, **event: Any
    ) -> int:
        """Record a refused decision."""
        return self._record(connection, actor, action, outcome="denied", code=code, **event)

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
        asked: bool = True,
    ) -> AccessDenied | None:
        """Record and return a NO_GRANT refusal when ``actor`` lacks ``purpose``.

        ``asked``: the caller named the purpose. One found from a collection's id is
        not named back: the caller would learn the purpose of data it may not see.
        """
        source_ip = source_ip or actor.source_ip
        if actor.may_serve(purpose):
            return None
        logged = declared_names(self.policy.policy, purpose=purpose)
        event_id = self._record_denial(
            connection,
            actor,
            action,
            Reason.NO_GRANT.value,
            subject_id=subject_id,
            collection_id=collection_id,
            **logged,
            source_ip=source_ip,
        )
        # Only a declared purpose is named back: anything else is the caller's text.
        named = logged["purpose"] == purpose
        if not asked:
            message = "no grant for the purpose of this collection"
        elif named:
            message = f"no grant for purpose {purpose!r}"
        else:
            message = "no grant for a purpose the policy does not declare"
        return AccessDenied(Reason.NO_GRANT.value, message, audit_event_id=event_id)

    def _integrity_alert(
        self,
        failure: IntegrityFailure,
        *,
        actor: Actor,
        subject_id: str,
        purpose: str,
        source_ip: str | None,
    ) -> None:
        """Record, in a transaction of its own, that stored data failed authentication.

        The read's own transaction is rolled back with its event; this event and an
        alert for the privacy officer stay (ids and the error code only).
        """
        with self.transaction() as connection:
            now = self.clock()
            event_id = self._record(
                connection,
                actor,
                "integrity_failure",
                now=now,
                outcome="denied",
                code=failure.code,
                subject_id=subject_id,
                purpose=purpose,
                source_ip=source_ip or actor.source_ip,
            )
            record_alert(
                connection,
                rule="integrity_failure",
                actor=actor.name,
                now=now,
                window=(now, now),
                detail={"code": failure.code, "subject_id": subject_id, "event_id": event_id},
            )

    def _refuse_before_reading(
        self,
        problem: InvalidInput,
        *,
        actor: Actor,
        action: str,
        subject_id: str,
        purpose: str,
        items: list[str],
        source_ip: str | None,
    ) -> NoReturn:
        """Record a use refused before any read (a denied event), then raise ``problem``."""
        with self.transaction() as connection:
            known = connection.execute(
                select(subjects_table.c.id).where(subjects_table.c.id == subject_id)
            ).first()
            self._record_denial(
                connection,
                actor,
                action,
                problem.code,
                # Only a subject that exists is named: otherwise the id is the client's text.
                subject_id=subject_id if known else None,
                **declared_names(self.policy.policy, purpose=purpose, items=items),
                source_ip=source_ip,
            )
        raise problem

    def _find_collection(
        self,
        connection: Connection,
        *,
        actor: Actor,
        action: str,
        collection_id: str,
        source_ip: str | None = None,
    ) -> subjects.CollectionInfo | NotFound:
        """The collection, or the NotFound to raise once its refusal is recorded.

        Whether a collection exists says something about a person, so a miss is an
        audit event too (without the id asked for: it is the client's text).
        """
        try:
            return subjects.get_collection(connection, collection_id)
        except NotFound as missing:
            self._record_denial(connection, actor, action, "NOT_FOUND", source_ip=source_ip)
            return missing

    def _change(
        self,
        action: str,
        actor: Actor,
        collection_id: str,
        change: Callable[[Connection], Any],
        *,
        source_ip: str | None = None,
    ) -> Any:
        """Run ``change`` on a collection for an actor granted its purpose, as one event.

        A refusal, a missing collection included, is an event too, committed before
        the error is raised.
        """
        with self.transaction() as connection:
            info = self._find_collection(
                connection,
                actor=actor,
                action=action,
                collection_id=collection_id,
                source_ip=source_ip,
            )
            refusal: HaechiError | None = None
            if isinstance(info, NotFound):
                refusal = info
            elif (
                refusal := self._refused(
                    connection,
                    actor=actor,
                    action=action,
                    purpose=info.purpose,
                    subject_id=info.subject_id,
                    collection_id=collection_id,
                    source_ip=source_ip,
                    asked=False,
                )
            ) is None:
                result = change(connection)
                self._record(
                    connection,
                    actor,
                    action,
                    subject_id=info.subject_id,
                    collection_id=collection_id,
                    purpose=info.purpose,
                    source_ip=source_ip or actor.source_ip,
                )
        if refusal is not None:
            raise refusal
        return result
