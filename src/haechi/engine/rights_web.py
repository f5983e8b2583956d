"""Requests people make about their data through the web: submit, code, status.

A request opened here is verified only by the code mailed to the address on file
(:meth:`RightsWebMixin.verify_request_code`); what the requester may see of it later
is read with its status token. The shared steps are in :mod:`haechi.engine.rights`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row

from haechi.access.decision import Actor
from haechi.access.tokens import secret_digest
from haechi.engine import rights_inputs as inputs
from haechi.engine.rights import RightsMixin
from haechi.errors import Conflict, HaechiError
from haechi.rights import codes, documents
from haechi.rights import requests as rows
from haechi.rights.models import (
    CodeMail,
    PublicReceipt,
    PublicStatus,
    Requester,
    State,
    Verification,
)

__all__ = ["RightsWebMixin"]


class RightsWebMixin(RightsMixin):
    """The public channel of rights requests: no login, a mailed code, a status token."""

    def submit_request(
        self,
        *,
        kind: str,
        email: str | None = None,
        phone: str | None = None,
        purposes: Sequence[str] | None = None,
        lang: str = "ko",
        corrections: Mapping[str, object] | None = None,
        source_ip: str | None,
    ) -> PublicReceipt:
        """Take a web request; answered alike whether or not the person is on file.

        A code is issued either way; it is mailed (by the caller, with the returned
        :class:`CodeMail`) only to an address on file.
        """
        asked = inputs.check_request(
            self.policy.policy,
            kind=kind,
            channel="web",
            email=email,
            phone=phone,
            purposes=purposes,
            lang=lang,
            corrections=corrections,
        )
        with self._web_intake(asked, source_ip) as intake:
            connection, now = intake.connection, intake.now
            subject_id = intake.found.subject_id
            address = self._address_on_file(connection, subject_id, asked) if subject_id else None
            if address is None:
                subject_id = None
            request_id = self._create(
                connection,
                asked=asked,
                channel="web",
                requester=Requester.SUBJECT,
                subject_id=subject_id,
                digest=intake.digest,
                token_hash=intake.token_hash,
                created_by=intake.actor.name,
                now=now,
            )
            # Sealed for everyone alike: the address on file, or nothing.
            documents.add(
                connection,
                keys=self.keys,
                request_id=request_id,
                kind=documents.CONTACT,
                content=(address or "").encode(),
                media_type="text/plain",
                now=now,
            )
            code, expires_at = codes.issue_code(
                connection,
                key=self._code_key(),
                rules=self.request_rules,
                request_id=request_id,
                address_digest=intake.digest,
                source_ip=source_ip,
                now=now,
            )
            self._step(
                connection,
                (request_id, asked.kind.value, subject_id),
                "receive",
                actor=intake.actor,
            )
        mail = (
            CodeMail(request_id, address, code, asked.lang, expires_at)
            if address is not None
            else None
        )
        return PublicReceipt(request_id, intake.token, mail)

    def resend_code(
        self, request_id: str, *, status_token: str, source_ip: str | None
    ) -> CodeMail | None:
        """A new code for a request not yet verified (the earlier one stops working)."""
        actor = Actor(name="public", kind="public", purposes=frozenset(), source_ip=source_ip)
        with self.transaction() as connection:
            row = rows.by_token(connection, request_id, secret_digest(status_token))
            if row.state != State.RECEIVED.value:
                raise Conflict("the request is already verified", code="REQUEST_STATE")
            if row.requester != Requester.SUBJECT:
                raise Conflict(
                    "a representative's request is verified by staff from its proof",
                    code="STAFF_VERIFIES",
                )
            code, expires_at = codes.issue_code(
                connection,
                key=self._code_key(),
                rules=self.request_rules,
                request_id=row.id,
                address_digest=row.contact_digest,
                source_ip=source_ip,
                now=self.clock(),
            )
            mail = self._code_mail(connection, row, code, expires_at)
            self._step(connection, row, "resend_code", actor=actor)
        return mail

    def verify_request_code(
        self, request_id: str, *, status_token: str, code: str, source_ip: str | None
    ) -> PublicStatus:
        """Verify a web request with the code mailed for it; every try is counted."""
        actor = Actor(name="public", kind="public", purposes=frozenset(), source_ip=source_ip)
        error: HaechiError | None = None
        with self.transaction() as connection:
            row = rows.by_token(connection, request_id, secret_digest(status_token))
            now = self.clock()
            if row.state != State.RECEIVED.value:
                error = Conflict("the request is already verified", code="REQUEST_STATE")
            elif row.requester != Requester.SUBJECT:
                error = Conflict(
                    "a representative's request is verified by staff from its proof",
                    code="STAFF_VERIFIES",
                )
            else:
                error = codes.check_code(
                    connection,
                    key=self._code_key(),
                    rules=self.request_rules,
                    request_id=row.id,
                    code=code,
                    on_file=row.subject_id is not None,
                    now=now,
                )
            if error is None:
                self._verified(connection, row, Verification.EMAIL_CODE, actor=actor, now=now)
            else:
                self._step(
                    connection, row, "verify", actor=actor, outcome="denied", code=error.code
                )
            status = self._public(rows.load(connection, row.id))
        if error is not None:
            raise error
        return status

    def request_status(
        self, request_id: str, *, status_token: str, source_ip: str | None
    ) -> PublicStatus:
        """What the requester may see of their request, with its status token."""
        with self.transaction() as connection:
            row = rows.by_token(connection, request_id, secret_digest(status_token))
            return self._public(row)

    @staticmethod
    def _public(row: Row[Any]) -> PublicStatus:
        return PublicStatus(
            request_id=row.id,
            kind=row.kind,
            state=row.state,
            received_at=row.received_at,
            due_at=row.due_at,
            refusal_reason=row.refusal_reason,
            refusal_until=row.refusal_until,
            postpone_reason=row.postpone_reason,
        )
