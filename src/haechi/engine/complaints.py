"""Complaints (민원): intake, a sealed thread, assignment, the result and its delivery.

The intake goes through the consent-checked collection of the ``complaints`` purpose.

Who may do what:

- intake: any actor serving ``complaints`` (the public form's actor, or staff taking a
  complaint by phone or on paper);
- handlers granted ``complaints`` read the queue and threads; the handler a complaint
  is assigned to (or the privacy officer, who serves every purpose) replies, confirms
  the petitioner's address and closes it;
- auditors read the metadata only (ids, states, dates, who wrote when), never a text;
- a thread whose collection is separated under its legal hold is read only for the
  hold's purpose (``hold:complaints``) and no longer changes.

Every step is an audit event naming the complaint (``complaint <id>``), never a text.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from haechi.access.decision import Actor, Reason
from haechi.engine.complaints_base import ComplaintsBase, reads_metadata, reads_text
from haechi.errors import AccessDenied, Conflict, InvalidInput
from haechi.policy.schema import ItemKind
from haechi.rights import complaints as service
from haechi.rights import complaints_thread as threads
from haechi.rights.complaints import (
    PURPOSE,
    ComplaintInfo,
    ComplaintState,
    Intake,
    IntakeLimited,
    ThreadMessage,
)
from haechi.storage.keyring import StaleEpoch
from haechi.subjects.collecting import OnFile
from haechi.subjects.collector import SealedCollection
from haechi.subjects.matching import lookup_digests
from haechi.subjects.models import ConsentEvidence

__all__ = ["ComplaintsMixin"]


class ComplaintsMixin(ComplaintsBase):
    """Complaints: intake, the petitioner's status, the queue and threads."""

    # -- intake -------------------------------------------------------------------

    def submit_complaint(
        self,
        *,
        items: Mapping[str, object],
        description: str,
        consent: ConsentEvidence,
        actor: Actor,
        channel: str = "web",
    ) -> Intake:
        """Receive a complaint: the petitioner's items collected with consent, the petition sealed.

        A public actor (kind ``public``) is limited per source address and hour and
        per petitioner email and day (counted with the insert, see
        :func:`haechi.rights.complaints.intake_capped`). It is answered alike whether
        or not the person is known: a person already on file for complaints gets the
        complaint added to that data, which is kept as it is (held, suspended or not:
        a public form proves no identity); other conflicts are logged as refusals and
        answered with ids that lead nowhere.
        """
        source = consent.source_ip or actor.source_ip
        try:
            petition = self._check_text(description, field="description")
        except InvalidInput as problem:
            with self.transaction() as connection:
                self._complaint_denial(connection, actor, "complaint_open", problem.code)
            raise
        public = actor.kind == "public"
        if public and source and self._intake_capped(actor, source, None):
            raise IntakeLimited("too many complaints lately; try again later")
        # One policy version for the checks, the blind index and the seals.
        started = self.clock()
        policy = self.versions.current(started).loaded
        declared, values = self._collection_values(
            purpose=PURPOSE, items=items, consent=consent, actor=actor, policy=policy
        )
        email_digest = None
        if public:
            email_digest = next(
                (
                    digest
                    for digest, kind in lookup_digests(policy.policy, self._index, values).items()
                    if kind == ItemKind.EMAIL.value
                ),
                None,
            )
        for attempt in range(3):
            # Sealed before the transaction: sealing may look the epoch key up, which
            # on SQLite could not wait for the write lock this transaction holds.
            sealed = self._sealed_collection(
                policy=policy,
                now=started,
                purpose=declared,
                purpose_id=PURPOSE,
                values=values,
                consent=consent,
                channel=channel,
                source="complaint",
                actor=actor,
            )
            try:
                # The cap's count, the collection and the complaint commit together:
                # the count's locks hold until the complaint is in (PostgreSQL).
                with self.transaction() as connection:
                    now = self.clock()
                    if public and service.intake_capped(
                        connection, source=source, email_digest=email_digest, now=now
                    ):
                        self._complaint_denial(connection, actor, "complaint_open", "RATE_LIMITED")
                        limited = True
                    else:
                        limited = False
                        intake = self._open_on(
                            connection,
                            sealed=sealed,
                            channel=channel,
                            actor=actor,
                            source=source if public else None,
                            email_digest=email_digest,
                            petition=petition,
                        )
            except StaleEpoch as stale:
                # The key job retired the epoch key since it was looked up: seal again.
                self._stale_epoch(stale, attempt)
                continue
            except IntegrityError:
                # Two intakes for the same new person raced to create the subject;
                # the loser retries and finds the winner's subject.
                if attempt == 2:
                    raise
                continue
            if limited:
                raise IntakeLimited("too many complaints lately; try again later")
            return intake
        raise AssertionError("unreachable")  # pragma: no cover

    def _intake_capped(self, actor: Actor, source: str | None, email: bytes | None) -> bool:
        """The caps checked before any work (the bulk of a flood stops here, unserialised)."""
        with self.transaction() as connection:
            capped = service.intake_capped(
                connection, source=source, email_digest=email, now=self.clock()
            )
            if capped:
                self._complaint_denial(connection, actor, "complaint_open", "RATE_LIMITED")
        return capped

    def _open_on(
        self,
        connection: Connection,
        *,
        sealed: SealedCollection,
        channel: str,
        actor: Actor,
        source: str | None,
        email_digest: bytes | None,
        petition: str,
    ) -> Intake:
        """Collect the petitioner's items and open the complaint, in the caller's transaction."""
        public = actor.kind == "public"
        try:
            # A savepoint: a refused collection leaves nothing of itself behind.
            with connection.begin_nested():
                collected = self._collect_on(
                    connection,
                    sealed,
                    # Anyone can type a known person's email: a public intake adds a
                    # complaint to what is on file, it never rewrites it.
                    replace=not public,
                )
            subject_id, collection_id = collected.subject_id, collected.collection_id
        except OnFile as on_file:
            subject_id, collection_id = on_file.subject_id, on_file.collection_id
        except Conflict as conflict:
            if not public:
                raise
            self._complaint_denial(connection, actor, "complaint_open", conflict.code)
            return service.decoy_intake()
        now = self.clock()
        intake = service.open_complaint(
            connection,
            collection_id=collection_id,
            subject_id=subject_id,
            channel=channel,
            received_from=source,
            email_digest=email_digest,
            now=now,
        )
        threads.start_thread(
            connection,
            keys=self.keys,
            complaint_id=intake.complaint_id,
            collection_id=collection_id,
            petition=petition,
            now=now,
        )
        info = service.get_complaint(connection, intake.complaint_id)
        self._complaint_event(connection, actor, "complaint_open", info)
        return intake

    def complaint_status(
        self, complaint_id: str, *, token: str, source_ip: str | None = None
    ) -> ComplaintInfo | None:
        """The complaint its petitioner follows with the status token; None for a wrong pair."""
        actor = Actor(name="public", kind="public", purposes=frozenset(), source_ip=source_ip)
        with self.transaction() as connection:
            info = service.token_matches(connection, complaint_id, token)
            if info is None:
                self._complaint_denial(connection, actor, "complaint_status", "NOT_FOUND")
            else:
                self._complaint_event(connection, actor, "complaint_status", info)
        return info

    # -- the queue and threads ----------------------------------------------------

    def complaints(
        self, *, actor: Actor, state: str | None = None, limit: int = 100
    ) -> list[ComplaintInfo]:
        """The complaints queue, oldest first; metadata only (logged, as is a refusal)."""
        wanted = None
        if state is not None:
            try:
                wanted = ComplaintState(state)
            except ValueError:
                raise InvalidInput("state is received, assigned or closed", field="state") from None
        limit = max(1, min(limit, 1000))
        with self.transaction() as connection:
            if reads_metadata(actor):
                self._record_allowed_list(connection, actor)
                return service.list_complaints(connection, state=wanted, limit=limit)
            event_id = self._complaint_denial(
                connection, actor, "complaint_list", Reason.NO_GRANT.value
            )
        raise AccessDenied(
            Reason.NO_GRANT.value, "no grant to read complaints", audit_event_id=event_id
        )

    def _record_allowed_list(self, connection: Connection, actor: Actor) -> None:
        self._record(
            connection,
            actor,
            "complaint_list",
            purpose=PURPOSE,
        )

    def complaint(
        self, complaint_id: str, *, actor: Actor
    ) -> tuple[ComplaintInfo, list[ThreadMessage]]:
        """A complaint and its thread; texts only for those who handle complaints.

        An auditor sees who wrote what kind of message when, never the text; once the
        collection is destroyed the thread's texts are gone for everyone.
        """
        thread: list[ThreadMessage] = []

        def read(connection: Connection, info: ComplaintInfo) -> ComplaintInfo:
            thread.extend(
                threads.read_thread(
                    connection, keys=self.keys, info=info, with_text=reads_text(actor, info)
                )
            )
            return info

        info: ComplaintInfo = self._with_complaint(
            complaint_id,
            actor=actor,
            action="complaint_view",
            may=lambda _info: reads_metadata(actor),
            step=read,
            lock=False,
        )
        return info, thread
