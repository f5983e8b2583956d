"""Handling complaints: assignment, replies, the confirmed address, closing, the mailed result."""

from __future__ import annotations

import smtplib

from sqlalchemy import Connection

from haechi.access.decision import Actor
from haechi.engine.complaints_base import ComplaintsBase, handles, reads_text
from haechi.errors import Conflict, InvalidInput
from haechi.rights import complaints as service
from haechi.rights import complaints_thread as threads
from haechi.rights.complaints import (
    PURPOSE,
    ComplaintInfo,
    ComplaintState,
    MessageKind,
    MessageSender,
)

__all__ = ["ComplaintHandlingMixin"]


class ComplaintHandlingMixin(ComplaintsBase):
    """Complaints: assignment, replies and notes, the confirmed address, closing."""

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
            may=lambda info: reads_text(actor, info),
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
            seq = threads.add_message(
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
            may=lambda info: handles(actor, info),
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
            may=lambda info: handles(actor, info),
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
            threads.add_message(
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
            may=lambda found: handles(actor, found),
            step=close,
        )
        if delivery == "mail":
            assert sender is not None
            info = self._mail_result(info, text, actor=actor, sender=sender)
        return info

    def deliver_complaint_result(
        self, complaint_id: str, *, actor: Actor, sender: MessageSender
    ) -> ComplaintInfo:
        """Mail again the result of a closed complaint whose mail was not delivered."""
        result: list[str] = []

        def undelivered(connection: Connection, info: ComplaintInfo) -> ComplaintInfo:
            if info.state is not ComplaintState.CLOSED or info.delivery is not None:
                raise Conflict("only an undelivered result is mailed again", code="NOT_PENDING")
            if info.contact_verified is None:
                raise Conflict("the petitioner's email is not confirmed", code="EMAIL_NOT_VERIFIED")
            thread = threads.read_thread(connection, keys=self.keys, info=info, with_text=True)
            result.extend(m.text for m in thread if m.kind == MessageKind.RESULT and m.text)
            if not result:
                raise Conflict("the complaint's thread is destroyed", code="THREAD_DESTROYED")
            return info

        info: ComplaintInfo = self._with_complaint(
            complaint_id,
            actor=actor,
            action="complaint_deliver",
            may=lambda found: handles(actor, found),
            step=undelivered,
        )
        return self._mail_result(info, result[-1], actor=actor, sender=sender)

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
