"""Handling complaints: assignment, replies, the confirmed address, closing, the mailed result.

The result mail is handed to a :data:`~haechi.rights.complaints.ResultHook` inside the
step that closes the complaint (the surfaces store it in the outbox there).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from haechi.access.decision import Actor
from haechi.engine.complaints_base import ComplaintsBase, handles, reads_text
from haechi.errors import Conflict, InvalidInput, NotFound
from haechi.rights import complaints as service
from haechi.rights import complaints_thread as threads
from haechi.rights.complaints import (
    PURPOSE,
    ComplaintInfo,
    ComplaintState,
    MessageKind,
    ResultHook,
    ResultMail,
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
        queue: ResultHook | None = None,
    ) -> ComplaintInfo:
        """Close a complaint with its result, sealed, and deliver the result.

        By ``mail`` only to an address the handler confirmed: the mail is given to
        ``queue`` (the outbox) in the transaction that closes the complaint, and the
        complaint counts as delivered once the mail server took it
        (:meth:`record_complaint_delivery_on`). Without a ``queue`` (no mail server set)
        mail is 409 MAIL_DISABLED. Any other delivery (post, phone, fax, in person)
        is recorded as done.
        """
        text = self._check_text(result, field="result")
        if delivery not in service.DELIVERIES:
            raise InvalidInput(
                "delivery is one of " + ", ".join(sorted(service.DELIVERIES)), field="delivery"
            )
        address = None
        if delivery == "mail" and queue is not None:
            address = self._petitioner_address(
                complaint_id,
                actor,
                ready=lambda info: (
                    info.state is ComplaintState.ASSIGNED and info.contact_verified is not None
                ),
            )

        def close(connection: Connection, info: ComplaintInfo) -> ComplaintInfo:
            self._assigned(info)
            if delivery == "mail":
                self._mailable(info, queue, address)
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
            service.set_fields(
                connection, info.id, now=now, state=ComplaintState.CLOSED.value, closed_at=now,
                delivery=delivery, delivered_at=None if delivery == "mail" else now,
            )  # fmt: skip
            if delivery == "mail":
                assert queue is not None
                assert address is not None
                queue(connection, ResultMail(info.id, address, text))
            return service.get_complaint(connection, info.id)

        closed: ComplaintInfo = self._with_complaint(
            complaint_id,
            actor=actor,
            action="complaint_close",
            may=lambda found: handles(actor, found),
            step=close,
        )
        return closed

    def deliver_complaint_result(
        self, complaint_id: str, *, actor: Actor, queue: ResultHook | None
    ) -> ComplaintInfo:
        """Queue again the result mail of a closed complaint that was not delivered.

        Refused (409 ALREADY_QUEUED) while the result waits unsent in the outbox: the
        outbox job sends it once the mail server takes it. Without a ``queue`` (no
        mail server set) it is 409 MAIL_DISABLED, but only for a caller who may act on
        the complaint: others learn nothing of the settings.
        """
        address = None
        if queue is not None:
            address = self._petitioner_address(complaint_id, actor, ready=_undelivered)

        def again(connection: Connection, info: ComplaintInfo) -> ComplaintInfo:
            if queue is None:
                raise Conflict("mail is not configured", code="MAIL_DISABLED")
            if not _undelivered(info):
                raise Conflict("only an undelivered result is mailed again", code="NOT_PENDING")
            if service.result_queued(connection, info.id):
                raise Conflict(
                    "the result waits in the outbox; it goes once the mail server takes it",
                    code="ALREADY_QUEUED",
                )
            thread = threads.read_thread(connection, keys=self.keys, info=info, with_text=True)
            results = [m.text for m in thread if m.kind == MessageKind.RESULT and m.text]
            if not results:
                raise Conflict("the complaint's thread is destroyed", code="THREAD_DESTROYED")
            self._mailable(info, queue, address)
            assert address is not None
            service.set_fields(connection, info.id, now=self.clock(), delivery="mail")
            queue(connection, ResultMail(info.id, address, results[-1]))
            return service.get_complaint(connection, info.id)

        info: ComplaintInfo = self._with_complaint(
            complaint_id,
            actor=actor,
            action="complaint_deliver",
            may=lambda found: handles(actor, found),
            step=again,
        )
        return info

    def record_complaint_delivery_on(
        self, connection: Connection, complaint_id: str, *, actor: Actor
    ) -> None:
        """Record that the result mail went, in the transaction marking the mail sent."""
        try:
            info = service.get_complaint(connection, complaint_id, lock=True)
        except NotFound:
            return
        if info.delivered_at is None:
            service.set_fields(
                connection, info.id, now=self.clock(), delivery="mail", delivered_at=self.clock()
            )
            self._complaint_event(connection, actor, "complaint_mail", info)

    @staticmethod
    def _mailable(info: ComplaintInfo, queue: ResultHook | None, address: str | None) -> None:
        """Refuse mail without a confirmed address, a mail server, or an email on file."""
        if info.contact_verified is None:
            raise Conflict(
                "the petitioner's email is not confirmed; confirm it or deliver otherwise",
                field="delivery",
                code="EMAIL_NOT_VERIFIED",
            )
        if queue is None:
            raise Conflict("mail is not configured", field="delivery", code="MAIL_DISABLED")
        if address is None:
            raise Conflict(
                "the petitioner's email could not be read; deliver otherwise",
                field="delivery",
                code="NO_ADDRESS",
            )

    def _petitioner_address(
        self, complaint_id: str, actor: Actor, *, ready: Callable[[ComplaintInfo], bool]
    ) -> str | None:
        """The petitioner's email, read as an audited use, if ``actor`` is to mail it now.

        Read before the step's transaction (a use is a transaction of its own), and
        only when the step looks set to mail it; the step checks again under its lock.
        """
        with self.transaction() as connection:
            try:
                info = service.get_complaint(connection, complaint_id)
            except NotFound:
                return None
        if not (handles(actor, info) and ready(info)):
            return None
        values = self.use(
            actor=actor,
            subject_id=info.subject_id,
            purpose=PURPOSE,
            items=["email"],
            reason=f"complaint {info.id}",
        )
        return values.get("email")


def _undelivered(info: ComplaintInfo) -> bool:
    """A closed complaint whose result is (to go) by mail and was not delivered yet."""
    return (
        info.state is ComplaintState.CLOSED
        and info.delivered_at is None
        and info.delivery in (None, "mail")
    )
