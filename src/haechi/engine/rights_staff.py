"""Staff's side of requests: entering, verifying, carrying out, refusing, postponing.

Handlers act on requests whose purposes they are granted, the privacy officer on all;
auditors read them. Nothing here lets a web request past its code: a web request is
verified only by :meth:`RightsMixin.verify_request_code`, and every later step
requires a verified request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, update

from haechi.access.decision import Actor
from haechi.access.roles import Role, require_role
from haechi.engine import rights_actions as fulfil
from haechi.engine import rights_inputs as inputs
from haechi.engine.rights_fulfil import RightsFulfilMixin, moment
from haechi.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from haechi.rights import documents
from haechi.rights import requests as rows
from haechi.rights.models import (
    STAFF_METHODS,
    Delivery,
    Kind,
    PostponeReason,
    RefusalReason,
    Requester,
    RequestInfo,
    ResultMail,
    State,
    SubjectExport,
    Verification,
)
from haechi.storage.rights_tables import rights_requests
from haechi.subjects import service as subjects
from haechi.subjects.values import identifier

__all__ = ["RightsStaffMixin"]

_OPEN = (State.VERIFIED, State.IN_PROGRESS, State.POSTPONED)
_STAFF_CHANNELS = ("email", "document", "fax", "portal")
_PROOF = {
    Requester.DELEGATE: "power_of_attorney",
    Requester.LEGAL_REPRESENTATIVE: "proof_of_representation",
}
_MAX_POSTPONE_DAYS = 60
_MAX_NOTE = 2000


class RightsStaffMixin(RightsFulfilMixin):
    """Staff steps of requests, their fulfilment, deadlines and retention."""

    # -- staff-entered requests ------------------------------------------------------

    def enter_request(
        self,
        *,
        kind: str,
        channel: str,
        email: str | None = None,
        phone: str | None = None,
        purposes: Sequence[str] | None = None,
        lang: str = "ko",
        requester: str = Requester.SUBJECT.value,
        representative: Mapping[str, str] | None = None,
        reply_to: str | None = None,
        attachments: Sequence[tuple[str, str, bytes]] = (),
        corrections: Mapping[str, object] | None = None,
        actor: Actor,
    ) -> RequestInfo:
        """Enter a request received by email, document, fax or the national portal.

        ``attachments`` are (kind, media type, content): the received document, and a
        representative's power of attorney or proof of representation, sealed under the
        request's key. A representative's particulars are sealed too.
        """
        require_role(actor, Role.PRIVACY_OFFICER, Role.HANDLER)
        if channel not in _STAFF_CHANNELS:
            raise InvalidInput(
                f"channel must be one of {', '.join(_STAFF_CHANNELS)}", field="channel"
            )
        asked = inputs.check_request(
            self.policy.policy,
            kind=kind,
            channel=channel,
            email=email,
            phone=phone,
            purposes=purposes,
            lang=lang,
            corrections=corrections,
        )
        who = inputs.check_requester(
            self.policy.policy,
            requester,
            representative,
            attachments,
            max_bytes=self.request_rules.max_document_bytes,
        )
        reply = None
        if reply_to is not None:
            cleaned = identifier("email", reply_to)
            if cleaned is None:
                raise InvalidInput("reply_to is not an email address", field="reply_to")
            reply = cleaned.value
        elif asked.contact_kind == "email" and who is Requester.SUBJECT:
            reply = asked.contact.value
        now = self.clock()
        with self.transaction() as connection:
            found = subjects.find_subject(
                connection,
                index=self._index,
                kind=asked.contact_kind,
                value=asked.contact.value,
                actor=actor,
            )
            refusal = found.refusal or (None if found.subject_id else "NOT_FOUND")
            if found.subject_id is not None and not self._may_serve_all(
                actor, asked.purposes or self._held_purposes(connection, found.subject_id)
            ):
                refusal = "NO_GRANT"
            if refusal is not None:
                self._record(
                    connection,
                    actor,
                    "request_receive",
                    now=now,
                    outcome="denied",
                    code=refusal,
                    subject_id=found.logged_subject,
                )
        if refusal == "NO_GRANT":
            raise PermissionDenied(
                "this request concerns purposes you are not granted", code="NO_GRANT"
            )
        if found.subject_id is None:
            raise NotFound(
                "nobody on file with this address for your purposes", field=asked.contact_kind
            )
        subject_id = found.subject_id
        now = self.clock()
        with self.transaction() as connection:
            request_id = self._create(
                connection,
                asked=asked,
                channel=channel,
                requester=who,
                subject_id=subject_id,
                digest=None,
                token_hash=None,
                created_by=actor.name,
                now=now,
            )
            row = rows.load(connection, request_id)
            sealed = [(documents.CONTACT, "text/plain", (reply or "").encode())]
            if representative:
                sealed.append(
                    (
                        documents.REPRESENTATIVE,
                        "application/json",
                        json.dumps(dict(representative)).encode(),
                    )
                )
            for kind_, media_type, content in [*sealed, *attachments]:
                documents.add(
                    connection,
                    keys=self.keys,
                    request_id=request_id,
                    kind=kind_,
                    content=content,
                    media_type=media_type,
                    now=now,
                )
            self._step(connection, row, "receive", actor=actor)
            return rows.info(connection, row, detailed=True)

    # -- steps ------------------------------------------------------------------------

    def verify_request(self, request_id: str, *, method: str, actor: Actor) -> RequestInfo:
        """Record how staff confirmed the requester of a request they entered.

        A web request is verified by its code alone: staff cannot verify it for the
        person, whatever their role.
        """
        if method not in STAFF_METHODS:
            raise InvalidInput("method is not a staff verification method", field="method")
        row = self._acting(request_id, "verify", actor)
        with self.transaction() as connection:
            row = rows.load(connection, request_id, lock=True)
            if row.channel == "web":
                self._step(
                    connection, row, "verify", actor=actor, outcome="denied", code="WEB_NEEDS_CODE"
                )
                refusal = Conflict(
                    "a web request is verified by its code only", code="WEB_NEEDS_CODE"
                )
            else:
                refusal = None
                self._verified(connection, row, Verification(method), actor=actor, now=self.clock())
        if refusal is not None:
            raise refusal
        return self.request(request_id, actor=actor)

    def start_request(self, request_id: str, *, actor: Actor) -> RequestInfo:
        """Begin handling a verified request."""
        self._acting(request_id, "start", actor)
        with self.transaction() as connection:
            row = rows.load(connection, request_id, lock=True)
            rows.move(
                connection,
                request_id,
                to=State.IN_PROGRESS,
                allowed_from=(State.VERIFIED,),
                started_at=self.clock(),
            )
            self._step(connection, row, "start", actor=actor)
        return self.request(request_id, actor=actor)

    def postpone_request(
        self,
        request_id: str,
        *,
        reason: str,
        due_at: datetime,
        note: str | None = None,
        actor: Actor,
    ) -> ResultMail | None:
        """Postpone the answer once, within the original deadline, to a new due date."""
        if reason not in set(PostponeReason):
            raise InvalidInput("reason is not a postponement reason", field="reason")
        self._check_note(note)
        row = self._acting(request_id, "postpone", actor)
        now = self.clock()
        if due_at.tzinfo is None:
            raise InvalidInput("due_at must give its UTC offset", field="due_at")
        if row.postponed_at is not None:
            raise Conflict("a request is postponed once only", code="ALREADY_POSTPONED")
        if now > row.original_due_at:
            raise Conflict("the original deadline has passed", code="DEADLINE_PASSED")
        if not row.due_at < due_at <= row.received_at + timedelta(days=_MAX_POSTPONE_DAYS):
            raise InvalidInput(
                f"due_at is after the current due date and within {_MAX_POSTPONE_DAYS} days "
                "of receipt",
                field="due_at",
            )
        with self.transaction() as connection:
            rows.move(
                connection,
                request_id,
                to=State.POSTPONED,
                allowed_from=(State.VERIFIED, State.IN_PROGRESS),
                postponed_at=now,
                postpone_reason=reason,
                due_at=due_at,
                alerted=None,
            )
            self._add_note(connection, request_id, note, now)
            self._step(connection, row, "postpone", actor=actor)
            return self._result(connection, rows.load(connection, request_id))

    def refuse_request(
        self, request_id: str, *, reason: str, note: str | None = None, actor: Actor
    ) -> ResultMail | None:
        """Refuse a request with its reason; the answer says how to object."""
        if reason not in set(RefusalReason):
            raise InvalidInput("reason is not a refusal reason", field="reason")
        self._check_note(note)
        row = self._acting(request_id, "refuse", actor)
        now = self.clock()
        with self.transaction() as connection:
            rows.move(
                connection,
                request_id,
                to=State.REFUSED,
                allowed_from=(State.RECEIVED, *_OPEN),
                refusal_reason=reason,
                closed_at=now,
                retain_until=now + self.request_rules.record_retention,
            )
            self._add_note(connection, request_id, note, now)
            fulfil.release_holds(connection, request_id=request_id, now=now)
            self._step(connection, row, "refuse", actor=actor, code=reason)
            return self._result(connection, rows.load(connection, request_id))

    def _check_note(self, note: str | None) -> None:
        if note is not None and len(note) > _MAX_NOTE:
            raise InvalidInput(f"note has at most {_MAX_NOTE} characters", field="note")

    def _add_note(
        self, connection: Connection, request_id: str, note: str | None, now: datetime
    ) -> None:
        if note:
            documents.add(
                connection,
                keys=self.keys,
                request_id=request_id,
                kind=documents.NOTE,
                content=note.encode(),
                media_type="text/plain",
                now=now,
            )

    def _result(
        self, connection: Connection, row: Row[Any], export: SubjectExport | None = None
    ) -> ResultMail | None:
        """The answer to mail, if the request was verified and has an address to answer."""
        if row.verified_at is None:
            return None
        address = self._contact(connection, row.id)
        if not address:
            return None
        outcome = json.loads(row.outcome) if row.outcome else {}
        if row.state == State.POSTPONED:
            outcome.update(postpone_reason=row.postpone_reason, due_at=row.due_at.isoformat())
        if row.state == State.REFUSED:
            outcome.setdefault("refusal_reason", row.refusal_reason)
        return ResultMail(row.id, address, row.kind, row.state, row.lang, export, outcome)

    def complete_request(
        self,
        request_id: str,
        *,
        delivery: str = Delivery.MAIL.value,
        actor: Actor,
    ) -> ResultMail | None:
        """Carry a verified request out.

        The answer goes by mail (the returned message) or is recorded as sent by post or fax.
        """
        if delivery not in set(Delivery):
            raise InvalidInput("delivery is mail, post or fax", field="delivery")
        row = self._acting(request_id, "complete", actor)
        now = self.clock()
        with self.transaction() as connection:
            row = rows.load(connection, request_id, lock=True)
            if row.state not in {state.value for state in _OPEN}:
                raise Conflict(
                    f"a request that is {row.state} cannot be completed", code="REQUEST_STATE"
                )
            if delivery == Delivery.MAIL and not self._contact(connection, row.id):
                raise Conflict(
                    "there is no verified address to mail", field="delivery", code="NO_ADDRESS"
                )
            fulfil.release_holds(connection, request_id=request_id, now=now)
            state, outcome, export = self._fulfil(connection, row, actor=actor, now=now)
            rows.move(
                connection,
                request_id,
                to=state,
                allowed_from=_OPEN,
                closed_at=now,
                outcome=json.dumps(outcome, sort_keys=True),
                delivery=delivery,
                delivered_at=None if delivery == Delivery.MAIL else now,
                refusal_reason=outcome.get("refusal_reason"),
                refusal_until=moment(outcome.get("refusal_until")),
                retain_until=now + self.request_rules.record_retention,
            )
            self._step(
                connection,
                row,
                "complete" if state is State.COMPLETED else "refuse",
                actor=actor,
                code=outcome.get("refusal_reason"),
            )
            return self._result(connection, rows.load(connection, request_id), export)

    def record_delivery(self, request_id: str, *, actor: Actor) -> None:
        """Record that the answer was mailed (the surface calls it once it is sent)."""
        with self.transaction() as connection:
            row = rows.load(connection, request_id)
            connection.execute(
                update(rights_requests)
                .where(rights_requests.c.id == request_id)
                .values(delivered_at=self.clock())
            )
            self._step(connection, row, "deliver", actor=actor)

    def lift_suspension(self, request_id: str, *, actor: Actor) -> RequestInfo:
        """Lift the suspension a completed suspension request set."""
        row = self._acting(request_id, "lift", actor)
        if row.kind != Kind.SUSPENSION or row.state != State.COMPLETED:
            raise Conflict("only a completed suspension is lifted", code="REQUEST_STATE")
        with self.transaction() as connection:
            targets = fulfil.in_scope(
                connection, subject_id=row.subject_id, purposes=rows.purposes_of(row)
            )
            fulfil.suspend(connection, targets=targets, lift=True, now=self.clock())
            self._step(connection, row, "lift", actor=actor)
        return self.request(request_id, actor=actor)
