"""Staff's side of requests: entering, verifying, starting, lifting a suspension.

The answers (postponing, refusing, carrying out) are in :mod:`haechi.engine.rights_answers`.

Handlers act on requests whose purposes they are granted, the privacy officer on all;
auditors read them. Nothing here lets a web request past its code: a web request is
verified only by :meth:`~haechi.engine.rights_web.RightsWebMixin.verify_request_code`,
and every later step requires a verified request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from haechi.access.decision import Actor
from haechi.access.roles import Role, require_role
from haechi.engine import rights_actions as fulfil
from haechi.engine import rights_inputs as inputs
from haechi.engine.rights_answers import RightsAnswerMixin
from haechi.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from haechi.rights import documents
from haechi.rights import requests as rows
from haechi.rights.models import (
    STAFF_METHODS,
    Kind,
    Requester,
    RequestInfo,
    State,
    Verification,
)
from haechi.subjects import service as subjects
from haechi.subjects.values import identifier

__all__ = ["RightsStaffMixin"]

_STAFF_CHANNELS = ("email", "document", "fax", "portal")


class RightsStaffMixin(RightsAnswerMixin):
    """Staff steps of requests, their answers, fulfilment, deadlines and retention."""

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
            self._seal(connection, request_id, [*sealed, *attachments], now)
            self._step(connection, row, "receive", actor=actor)
            return rows.info(connection, row, detailed=True)

    # -- steps ------------------------------------------------------------------------

    def verify_request(self, request_id: str, *, method: str, actor: Actor) -> RequestInfo:
        """Record how staff confirmed the requester of a request they entered.

        A person's own web request is verified by its code alone: staff cannot verify it
        for the person, whatever their role. A representative's web request is verified
        here, from the proof it carries.
        """
        if method not in STAFF_METHODS:
            raise InvalidInput("method is not a staff verification method", field="method")
        row = self._acting(request_id, "verify", actor)
        with self.transaction() as connection:
            row = rows.load(connection, request_id, lock=True)
            # A representative's web request is verified from its proof, by staff.
            if row.channel == "web" and row.requester == Requester.SUBJECT:
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
