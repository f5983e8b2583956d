"""Collection and purpose-bound use (a collection's states are in :mod:`.states`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from haechi.access.decision import Actor, Reason
from haechi.engine.base import (
    _UNIQUE_IDENTIFIERS,
    declared_finding_types,
    reason_problem,
)
from haechi.engine.policy import PolicyMixin
from haechi.errors import AccessDenied, Conflict, IntegrityFailure, InvalidInput
from haechi.policy.loader import LoadedPolicy
from haechi.policy.schema import ItemKind, Purpose, hold_purpose
from haechi.storage import group_commit
from haechi.storage.keyring import StaleEpoch
from haechi.storage.prepared import translated_errors
from haechi.subjects import service as subjects
from haechi.subjects.collector import SealedCollection, seal_collection
from haechi.subjects.reads import ReadOutcome
from haechi.subjects.service import CollectionInfo, CollectResult, ConsentEvidence
from haechi.subjects.values import CleanValue

__all__ = ["SubjectsMixin"]


class SubjectsMixin(PolicyMixin):
    """Collection and purpose-bound use (a collection's states are in :mod:`.states`)."""

    # -- collection and use -------------------------------------------------------

    def collect(
        self,
        *,
        purpose: str,
        items: Mapping[str, object],
        consent: ConsentEvidence,
        channel: str = "api",
        source: str | None = None,
        actor: Actor,
        replace: bool = True,
    ) -> CollectResult:
        """Collect ``items`` for ``purpose`` with ``consent``, or refuse with a reason.

        With ``replace`` False, data already on file for the purpose is kept and
        :class:`haechi.subjects.collecting.OnFile` names it.
        """
        now = self.clock()
        policy = self.versions.current(now).loaded
        declared, values = self._collection_values(
            purpose=purpose, items=items, consent=consent, actor=actor, policy=policy
        )
        for attempt in range(3):
            # All the work that needs no database (digests, data key, seals) is done
            # before the transaction opens: on SQLite it holds the one write lock.
            sealed = self._sealed_collection(
                policy=policy,
                now=now,
                purpose=declared,
                purpose_id=purpose,
                values=values,
                consent=consent,
                channel=channel,
                source=source,
                actor=actor,
            )
            try:
                return group_commit.write(
                    self.database,
                    partial(self._collector.store, sealed=sealed, keys=self.keys, replace=replace),
                )
            except StaleEpoch as stale:
                # The key job retired the epoch key since it was looked up: wrap again.
                self._stale_epoch(stale, attempt)
            except IntegrityError:
                # Two collections for the same new person raced to create the
                # subject; the loser retries and finds the winner's subject.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _stale_epoch(self, stale: StaleEpoch, attempt: int) -> None:
        self._epochs.forget(stale.epoch_id)
        if attempt == 2:
            raise Conflict(
                "the data key's epoch key kept changing; try again", code="COLLECT_RETRY"
            ) from None

    def _collection_values(
        self,
        *,
        purpose: str,
        items: Mapping[str, object],
        consent: ConsentEvidence,
        actor: Actor,
        policy: LoadedPolicy | None = None,
    ) -> tuple[Purpose, Mapping[str, CleanValue]]:
        """The checks of :meth:`collect` before any write: the actor, the items, consent."""
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
        loaded = policy or self.versions.current(self.clock()).loaded
        declared, values = subjects.validate_collection(
            loaded.policy, purpose=purpose, values=items, consent=consent
        )
        self._refuse_identifiers_in_text(values)
        return declared, values

    def _sealed_collection(
        self,
        *,
        policy: LoadedPolicy,
        now: datetime,
        purpose: Purpose,
        purpose_id: str,
        values: Mapping[str, CleanValue],
        consent: ConsentEvidence,
        channel: str,
        source: str | None,
        actor: Actor,
    ) -> SealedCollection:
        """What the collector stores, made before the transaction opens.

        ``policy`` is the version the values were validated under, in force at ``now``.
        """
        return seal_collection(
            policy=policy,
            index=self._index,
            epochs=self._epochs,
            purpose=purpose,
            purpose_id=purpose_id,
            values=values,
            consent=consent,
            channel=channel,
            source=source,
            actor=actor,
            now=now,
        )

    def _collect_on(
        self, connection: Connection, sealed: SealedCollection, *, replace: bool
    ) -> CollectResult:
        """Store ``sealed`` (:meth:`_sealed_collection`) in the caller's transaction.

        The statements of :meth:`collect`, on the DBAPI cursor of the caller's connection
        (so in its transaction), in a savepoint: a refusal leaves nothing behind. A
        :class:`StaleEpoch` goes to the caller, to seal again in a new transaction.
        """
        cursor = connection.connection.cursor()
        try:
            with connection.begin_nested(), translated_errors(self.database):
                return self._collector.store(cursor, sealed, keys=self.keys, replace=replace)
        finally:
            cursor.close()

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
        problem = reason_problem(reason, download=download)
        if problem is not None:
            self._refuse_before_reading(
                problem,
                actor=actor,
                action="download" if download else "view",
                subject_id=subject_id,
                purpose=purpose,
                items=items or [],
                source_ip=source_ip,
            )
        state = self.versions.current(self.clock())
        items = self._consented_items(
            state,
            actor=actor,
            subject_id=subject_id,
            purpose=purpose,
            items=items,
            source_ip=source_ip,
            download=download,
        )

        # Run in the thread that commits, perhaps another request's: all it needs is
        # in its arguments, and its clock is read there, in commit order.
        def read(cursor: Any) -> ReadOutcome:
            return self._reader.read(
                cursor,
                policy=state.loaded.policy,
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

        try:
            outcome = group_commit.write(self.database, read)
        except IntegrityFailure as failure:
            self._integrity_alert(
                failure, actor=actor, subject_id=subject_id, purpose=purpose, source_ip=source_ip
            )
            raise
        if outcome.error is not None:
            raise outcome.error
        return outcome.values

    def find_subject(
        self, *, actor: Actor, kind: str, value: str, source_ip: str | None = None
    ) -> str | None:
        """The subject with this email or phone, if any; the lookup itself is logged.

        Only an actor serving a purpose that collects this kind of value may look it up,
        and it finds only subjects with live data for a purpose it serves: whether a
        person is known, for any purpose, is itself personal data. A phone shared by
        several such subjects is refused as ambiguous (Conflict), never answered with one
        of them (see :mod:`haechi.subjects.matching`).
        """
        if kind not in (ItemKind.EMAIL.value, ItemKind.PHONE.value):
            # Checked first: an unknown kind is client text, never logged or echoed.
            raise InvalidInput("lookups are by email or phone", field="kind")
        policy = self.policy.policy
        allowed = any(
            (
                actor.may_serve(purpose_id)
                or (purpose.legal_hold is not None and actor.may_serve(hold_purpose(purpose_id)))
            )
            and any(policy.lookup_items.get(item) == kind for item in purpose.all_items)
            for purpose_id, purpose in policy.purposes.items()
        )
        if not allowed:
            with self.transaction() as connection:
                event_id = self._record(
                    connection,
                    actor,
                    "lookup",
                    outcome="denied",
                    code=Reason.NO_GRANT.value,
                    items=[kind],
                    source_ip=source_ip,
                )
            raise AccessDenied(
                Reason.NO_GRANT.value,
                f"no grant for a purpose that collects {kind} values",
                audit_event_id=event_id,
            )
        with self.transaction() as connection:
            found = subjects.find_subject(
                connection, index=self._index, kind=kind, value=value, actor=actor
            )
            # Known only for purposes this actor does not serve: answered exactly as
            # "not found" (None), and logged as the refusal it is.
            self._record(
                connection,
                actor,
                "lookup",
                outcome="denied" if found.refusal else "allowed",
                subject_id=found.logged_subject,
                items=[kind],
                source_ip=source_ip,
                code=found.refusal or (None if found.subject_id else "NOT_FOUND"),
            )
        if found.refusal == "AMBIGUOUS_IDENTIFIER":
            raise Conflict(
                f"this {kind} belongs to more than one subject; look up by email",
                field="value",
                code=found.refusal,
            )
        return found.subject_id

    def collection(
        self, collection_id: str, *, actor: Actor, source_ip: str | None = None
    ) -> CollectionInfo:
        """A collection's metadata, for an actor granted its purpose (logged, as is a refusal).

        It links a subject to a purpose, a consent and dates: a read of personal data.
        """
        return cast(
            CollectionInfo,
            self._change(
                "view_collection",
                actor,
                collection_id,
                lambda connection: subjects.get_collection(connection, collection_id),
                source_ip=source_ip,
            ),
        )
