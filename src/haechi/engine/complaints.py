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

import secrets
import smtplib
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from haechi.access.decision import Actor, CollectionState, Reason
from haechi.access.roles import Role
from haechi.audit.events import record_event
from haechi.engine.subjects import SubjectsMixin
from haechi.errors import AccessDenied, Conflict, HaechiError, InvalidInput, NotFound
from haechi.policy.schema import hold_purpose
from haechi.rights import complaints as service
from haechi.rights.complaints import (
    INTAKE_PER_SOURCE_PER_HOUR,
    PURPOSE,
    ComplaintInfo,
    ComplaintState,
    Intake,
    IntakeLimited,
    MessageKind,
    MessageSender,
    ThreadMessage,
)
from haechi.subjects.models import ConsentEvidence

__all__ = ["ComplaintsMixin"]

_HOLD = hold_purpose(PURPOSE)
_UNIQUE = frozenset({"rrn", "foreign_rrn", "passport", "driver_license"})


def _reads_text(actor: Actor, info: ComplaintInfo | None = None) -> bool:
    """Whether ``actor`` may read thread texts (of ``info``, if given)."""
    if actor.kind == "system" or actor.role == Role.PRIVACY_OFFICER.value:
        return True
    if info is not None and info.collection_state == CollectionState.SEPARATED.value:
        return actor.may_serve(_HOLD)
    return actor.may_serve(PURPOSE)


def _reads_metadata(actor: Actor) -> bool:
    return _reads_text(actor) or actor.may_serve(_HOLD) or actor.role == Role.AUDITOR.value


def _handles(actor: Actor, info: ComplaintInfo) -> bool:
    """Whether ``actor`` acts on ``info``: its assignee, the officer or the system."""
    if actor.kind == "system" or actor.role == Role.PRIVACY_OFFICER.value:
        return True
    return actor.may_serve(PURPOSE) and info.assigned_to == actor.name


class ComplaintsMixin(SubjectsMixin):
    """Complaints: intake, the queue, threads, assignment, closing and delivery."""

    # -- helpers ------------------------------------------------------------------

    def _complaint_event(
        self, connection: Connection, actor: Actor, action: str, info: ComplaintInfo, **more: Any
    ) -> None:
        record_event(
            connection,
            now=self.clock(),
            actor=actor.name,
            actor_kind=actor.kind,
            action=action,
            subject_id=info.subject_id,
            collection_id=info.collection_id,
            purpose=PURPOSE,
            reason=f"complaint {info.id}",
            source_ip=actor.source_ip,
            **more,
        )

    def _complaint_denial(
        self,
        connection: Connection,
        actor: Actor,
        action: str,
        code: str,
        info: ComplaintInfo | None = None,
    ) -> int:
        named: dict[str, Any] = {}
        if info is not None:
            named = {
                "subject_id": info.subject_id,
                "collection_id": info.collection_id,
                "purpose": PURPOSE,
                "reason": f"complaint {info.id}",
            }
        return self._record_denial(connection, actor, action, code, **named)

    def _with_complaint(
        self,
        complaint_id: str,
        *,
        actor: Actor,
        action: str,
        may: Any,
        step: Any,
        lock: bool = True,
    ) -> Any:
        """Run ``step(connection, info)`` on a locked complaint if ``may(info)``; one event.

        A missing complaint, a refusal and a refused step (a HaechiError it raises) are
        recorded as denied events and committed before the error is raised.
        """
        error: HaechiError | None = None
        result: Any = None
        with self.transaction() as connection:
            try:
                info = service.get_complaint(connection, complaint_id, lock=lock)
            except NotFound as missing:
                self._complaint_denial(connection, actor, action, "NOT_FOUND")
                error = missing
            else:
                if not may(info):
                    event_id = self._complaint_denial(
                        connection, actor, action, Reason.NO_GRANT.value, info
                    )
                    error = AccessDenied(
                        Reason.NO_GRANT.value,
                        "no grant to act on this complaint",
                        audit_event_id=event_id,
                    )
                else:
                    # Steps check before they write: a refused one has changed nothing.
                    try:
                        result = step(connection, info)
                    except HaechiError as refused:
                        self._complaint_denial(connection, actor, action, refused.code, info)
                        error = refused
                    else:
                        self._complaint_event(connection, actor, action, info)
        if error is not None:
            raise error
        return result

    @staticmethod
    def _open_for_change(info: ComplaintInfo) -> None:
        if info.state is ComplaintState.CLOSED:
            raise Conflict("the complaint is closed", code="COMPLAINT_CLOSED")
        if info.collection_state != CollectionState.ACTIVE.value:
            raise Conflict(
                f"the complaint's collection is {info.collection_state}",
                code="COLLECTION_NOT_ACTIVE",
            )

    def _check_text(self, text: object, *, field: str) -> str:
        problem = service.message_problem(text, field=field)
        if problem is None and self.settings.collect.refuse_identifiers_in_text:
            from haechi.discovery import find_identifiers

            assert isinstance(text, str)
            if any(finding.type in _UNIQUE for finding in find_identifiers(text)):
                problem = InvalidInput(
                    f"{field} holds what looks like a unique identifier, which is not collected",
                    field=field,
                    code="UNIQUE_IDENTIFIER_IN_TEXT",
                )
        if problem is not None:
            raise problem
        assert isinstance(text, str)
        return text

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

        A public actor (kind ``public``) is limited per source address and hour, and
        is answered alike whether or not the person is known: a collection that cannot
        take new data (held, suspended) is logged as a refusal and answered with ids
        that lead nowhere, never with an error that would tell.
        """
        source = consent.source_ip or actor.source_ip
        try:
            petition = self._check_text(description, field="description")
        except InvalidInput as problem:
            with self.transaction() as connection:
                self._complaint_denial(connection, actor, "complaint_open", problem.code)
            raise
        if actor.kind == "public" and source:
            since = self.clock() - timedelta(hours=1)
            with self.transaction() as connection:
                count = service.intakes_since(connection, source=source, since=since)
                if count >= INTAKE_PER_SOURCE_PER_HOUR:
                    self._complaint_denial(connection, actor, "complaint_open", "RATE_LIMITED")
            if count >= INTAKE_PER_SOURCE_PER_HOUR:
                raise IntakeLimited("too many complaints from this address; try again later")
        try:
            collected = self.collect(
                purpose=PURPOSE,
                items=items,
                consent=consent,
                channel=channel,
                source="complaint",
                actor=actor,
            )
        except Conflict as conflict:
            if actor.kind != "public":
                raise
            with self.transaction() as connection:
                self._complaint_denial(connection, actor, "complaint_open", conflict.code)
            return Intake(str(uuid.uuid4()), "hcc_" + secrets.token_urlsafe(24))
        with self.transaction() as connection:
            intake = service.open_complaint(
                connection,
                keys=self.keys,
                collection_id=collected.collection_id,
                subject_id=collected.subject_id,
                channel=channel,
                received_from=source if actor.kind == "public" else None,
                petition=petition,
                now=self.clock(),
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
            if _reads_metadata(actor):
                self._record_allowed_list(connection, actor)
                return service.list_complaints(connection, state=wanted, limit=limit)
            event_id = self._complaint_denial(
                connection, actor, "complaint_list", Reason.NO_GRANT.value
            )
        raise AccessDenied(
            Reason.NO_GRANT.value, "no grant to read complaints", audit_event_id=event_id
        )

    def _record_allowed_list(self, connection: Connection, actor: Actor) -> None:
        record_event(
            connection,
            now=self.clock(),
            actor=actor.name,
            actor_kind=actor.kind,
            action="complaint_list",
            purpose=PURPOSE,
            source_ip=actor.source_ip,
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
                service.read_thread(
                    connection, keys=self.keys, info=info, with_text=_reads_text(actor, info)
                )
            )
            return info

        info: ComplaintInfo = self._with_complaint(
            complaint_id,
            actor=actor,
            action="complaint_view",
            may=lambda _info: _reads_metadata(actor),
            step=read,
            lock=False,
        )
        return info, thread

    # -- handling -----------------------------------------------------------------

    def assign_complaint(self, complaint_id: str, *, to: str, actor: Actor) -> None:
        """Assign a complaint to a handler granted ``complaints`` (or the privacy officer)."""

        def assign(connection: Connection, info: ComplaintInfo) -> None:
            self._open_for_change(info)
            if not service.assignable(connection, to):
                raise Conflict(
                    "the assignee must be an active handler granted 'complaints' "
                    "or a privacy officer",
                    field="assignee",
                    code="ASSIGNEE_NOT_GRANTED",
                )
            now = self.clock()
            service.set_fields(
                connection,
                info.id,
                now=now,
                state=ComplaintState.ASSIGNED.value,
                assigned_to=to,
                assigned_at=now,
            )

        self._with_complaint(
            complaint_id,
            actor=actor,
            action="complaint_assign",
            may=lambda info: _reads_text(actor, info),
            step=assign,
        )

    def _assigned(self, info: ComplaintInfo) -> None:
        self._open_for_change(info)
        if info.state is not ComplaintState.ASSIGNED:
            raise Conflict("assign the complaint to a handler first", code="NOT_ASSIGNED")

    def reply_complaint(
        self, complaint_id: str, *, text: str, actor: Actor, note: bool = False
    ) -> int:
        """Add a reply (or an internal ``note``) to the thread, sealed; its place is returned."""
        message = self._check_text(text, field="text")

        def reply(connection: Connection, info: ComplaintInfo) -> int:
            self._assigned(info)
            seq = service.add_message(
                connection,
                keys=self.keys,
                info=info,
                kind=MessageKind.NOTE if note else MessageKind.REPLY,
                author=actor.name,
                text=message,
                now=self.clock(),
            )
            service.set_fields(connection, info.id, now=self.clock())
            return seq

        seq: int = self._with_complaint(
            complaint_id,
            actor=actor,
            action="complaint_message",
            may=lambda info: _handles(actor, info),
            step=reply,
        )
        return seq

    def verify_complaint_contact(self, complaint_id: str, *, method: str, actor: Actor) -> None:
        """Record that the handler confirmed the petitioner's email, and how."""
        if method not in service.VERIFICATIONS:
            raise InvalidInput(
                "method is one of " + ", ".join(sorted(service.VERIFICATIONS)), field="method"
            )

        def verify(connection: Connection, info: ComplaintInfo) -> None:
            self._assigned(info)
            service.set_fields(connection, info.id, now=self.clock(), contact_verified=method)

        self._with_complaint(
            complaint_id,
            actor=actor,
            action="complaint_verify",
            may=lambda info: _handles(actor, info),
            step=verify,
        )

    def close_complaint(
        self,
        complaint_id: str,
        *,
        result: str,
        actor: Actor,
        delivery: str = "mail",
        sender: MessageSender | None = None,
    ) -> ComplaintInfo:
        """Close a complaint with its result, sealed, and deliver the result.

        By ``mail`` only to an address the handler confirmed, through ``sender``; the
        mail is sent after the close commits and its outcome is an event of its own.
        Any other delivery (post, phone, fax, in person) is recorded as done.
        """
        text = self._check_text(result, field="result")
        if delivery not in service.DELIVERIES:
            raise InvalidInput(
                "delivery is one of " + ", ".join(sorted(service.DELIVERIES)), field="delivery"
            )

        def close(connection: Connection, info: ComplaintInfo) -> ComplaintInfo:
            self._assigned(info)
            if delivery == "mail" and info.contact_verified is None:
                raise Conflict(
                    "the petitioner's email is not confirmed; confirm it or deliver otherwise",
                    field="delivery",
                    code="EMAIL_NOT_VERIFIED",
                )
            if delivery == "mail" and sender is None:
                raise Conflict("mail is not configured", field="delivery", code="MAIL_DISABLED")
            service.add_message(
                connection,
                keys=self.keys,
                info=info,
                kind=MessageKind.RESULT,
                author=actor.name,
                text=text,
                now=self.clock(),
            )
            now = self.clock()
            done = {} if delivery == "mail" else {"delivery": delivery, "delivered_at": now}
            service.set_fields(
                connection, info.id, now=now, state=ComplaintState.CLOSED.value, closed_at=now,
                **done,
            )  # fmt: skip
            return service.get_complaint(connection, info.id)

        info: ComplaintInfo = self._with_complaint(
            complaint_id,
            actor=actor,
            action="complaint_close",
            may=lambda found: _handles(actor, found),
            step=close,
        )
        if delivery == "mail":
            assert sender is not None
            info = self._mail_result(info, text, actor=actor, sender=sender)
        return info

    def _mail_result(
        self, info: ComplaintInfo, result: str, *, actor: Actor, sender: MessageSender
    ) -> ComplaintInfo:
        """Mail the result to the petitioner's confirmed email (read as an audited use)."""
        email = self.use(actor=actor, subject_id=info.subject_id, purpose=PURPOSE, items=["email"])[
            "email"
        ]
        officer = self.policy.policy.privacy_officer
        message = service.result_message(
            info,
            result,
            sender=self.settings.mail.sender,
            recipient=email,
            contacts=[f"{officer.email} · {officer.phone}"],
        )
        try:
            sender.send(message)
        except (OSError, smtplib.SMTPException):
            with self.transaction() as connection:
                self._complaint_denial(connection, actor, "complaint_mail", "MAIL_FAILED", info)
            raise Conflict(
                "the result is recorded but the mail was not delivered", code="MAIL_FAILED"
            ) from None
        with self.transaction() as connection:
            now = self.clock()
            service.set_fields(connection, info.id, now=now, delivery="mail", delivered_at=now)
            self._complaint_event(connection, actor, "complaint_mail", info)
            return service.get_complaint(connection, info.id)
