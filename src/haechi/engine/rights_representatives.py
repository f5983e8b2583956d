"""Requests a representative makes on the web, with the proof that they may act.

A legal representative or a delegate (Decree Art. 45) names the person, themselves,
the address the answer goes to, and attaches the proof (a power of attorney, or proof of
representation), sealed under the request's key like a letter entered by staff. The
web cannot tell whether a proof is genuine: such a request is verified by staff who
read it (:meth:`~haechi.engine.rights_staff.RightsStaffMixin.verify_request`), never
by a mailed code. It is answered alike whether or not the person is on file; it counts
towards the same hourly caps as a code request, per answer address and per source.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from haechi.engine import rights_inputs as inputs
from haechi.engine.rights import RightsMixin
from haechi.errors import InvalidInput
from haechi.rights import codes, documents
from haechi.rights.models import PublicReceipt, Requester
from haechi.subjects.values import identifier

__all__ = ["RepresentativeMixin"]


class RepresentativeMixin(RightsMixin):
    """The web channel for representatives."""

    def submit_representative_request(
        self,
        *,
        kind: str,
        requester: str,
        representative: Mapping[str, str],
        reply_to: str,
        attachments: Sequence[tuple[str, str, bytes]],
        email: str | None = None,
        phone: str | None = None,
        purposes: Sequence[str] | None = None,
        lang: str = "ko",
        source_ip: str | None,
    ) -> PublicReceipt:
        """Take a representative's web request; staff verify it from the proof attached."""
        policy = self.policy.policy
        asked = inputs.check_request(
            policy,
            kind=kind,
            channel="web",
            email=email,
            phone=phone,
            purposes=purposes,
            lang=lang,
            corrections=None,
        )
        who = inputs.check_requester(
            policy,
            requester,
            representative,
            attachments,
            max_bytes=self.request_rules.max_document_bytes,
        )
        if who is Requester.SUBJECT:
            raise InvalidInput("this form is for representatives", field="requester")
        answer_to = identifier("email", reply_to)
        if answer_to is None or answer_to.normalized is None:
            raise InvalidInput("reply_to is not an email address", field="reply_to")
        with self._web_intake(asked, source_ip) as intake:
            connection, now = intake.connection, intake.now
            request_id = self._create(
                connection,
                asked=asked,
                channel="web",
                requester=who,
                subject_id=intake.found.subject_id,
                digest=intake.digest,
                token_hash=intake.token_hash,
                created_by=intake.actor.name,
                now=now,
            )
            sealed = [
                (documents.CONTACT, "text/plain", answer_to.value.encode()),
                (
                    documents.REPRESENTATIVE,
                    "application/json",
                    json.dumps(dict(representative)).encode(),
                ),
                *attachments,
            ]
            self._seal(connection, request_id, sealed, now)
            # Never mailed: the request is verified by staff from its proof. Issuing
            # it counts the request towards the caps of the answer address and source.
            codes.issue_code(
                connection,
                key=self._code_key(),
                rules=self.request_rules,
                request_id=request_id,
                address_digest=self._index.digest("email", answer_to.normalized),
                source_ip=source_ip,
                now=now,
            )
            self._step(
                connection,
                (request_id, asked.kind.value, intake.found.subject_id),
                "receive",
                actor=intake.actor,
            )
        return PublicReceipt(request_id, intake.token, None)
