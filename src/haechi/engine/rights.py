"""Requests people make about their data: the steps every channel shares.

Every step runs in one transaction with its audit event (request id and kind in the
event's reason, the step linked in ``rights_request_events`` for the request's
history). The engine never sends mail: it returns what to send (:class:`CodeMail`,
:class:`ResultMail`) and the surface sends it, after answering, so a mailed code costs
the person on file no time the unknown one does not also spend.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row

from haechi.access.decision import Actor
from haechi.access.roles import Role
from haechi.access.tokens import secret_digest
from haechi.engine import rights_actions as fulfil
from haechi.engine import rights_inputs as inputs
from haechi.engine.base import SYSTEM, EngineBase
from haechi.rights import codes, documents
from haechi.rights import requests as rows
from haechi.rights.exports import open_items
from haechi.rights.models import (
    CodeMail,
    Kind,
    Requester,
    RequestRules,
    State,
    Verification,
)
from haechi.subjects import service as subjects
from haechi.subjects.models import SubjectLookup

__all__ = ["RightsMixin", "WebIntake"]

_HOLDING = frozenset({Kind.CORRECTION, Kind.DELETION})


@dataclass(frozen=True)
class WebIntake:
    """What a web request is opened with, in the transaction that stores it."""

    connection: Connection
    actor: Actor  # the public actor, carrying the request's source address
    digest: bytes  # the blind index of the person's email or phone
    token: str  # the status token, given to the requester once
    now: datetime
    found: SubjectLookup  # the person on file, if any (looked up as the system)

    @property
    def token_hash(self) -> str:
        """The stored form of the status token."""
        return secret_digest(self.token)


class RightsMixin(EngineBase):
    """Requests of access, correction, deletion, suspension and withdrawal."""

    request_rules = RequestRules()

    # -- shared steps -------------------------------------------------------------

    def _step(
        self,
        connection: Connection,
        row: Row[Any] | tuple[str, str, str | None],
        step: str,
        *,
        actor: Actor,
        outcome: str = "allowed",
        code: str | None = None,
    ) -> int:
        request_id, kind, subject_id = (
            (row.id, row.kind, row.subject_id) if isinstance(row, Row) else row
        )
        event_id = self._record(
            connection,
            actor,
            f"request_{step}",
            outcome=outcome,
            code=code,
            subject_id=subject_id,
            reason=f"rights_request {request_id} {kind}",
        )
        rows.record_step(connection, request_id=request_id, step=step, event_id=event_id)
        return event_id

    @staticmethod
    def _may_serve_all(actor: Actor, purposes: Sequence[str]) -> bool:
        """Whether ``actor`` serves every purpose of a request (the officer: all of them)."""
        if actor.all_purposes or actor.kind == "system" or actor.role == Role.PRIVACY_OFFICER:
            return True
        return bool(purposes) and all(actor.may_serve(purpose) for purpose in purposes)

    def _held_purposes(self, connection: Connection, subject_id: str) -> list[str]:
        """The purposes a subject has data for (live or separated)."""
        return sorted(
            {
                row.purpose
                for row in fulfil.in_scope(
                    connection, subject_id=subject_id, purposes=(), separated=True
                )
            }
        )

    def _code_key(self) -> bytes:
        return self.keys.derive("rights-code-v1")

    def _contact(self, connection: Connection, request_id: str) -> str | None:
        content = documents.read(
            connection, keys=self.keys, request_id=request_id, kind=documents.CONTACT
        )
        return content.decode() if content else None

    def _code_mail(
        self, connection: Connection, row: Row[Any], code: str, expires_at: datetime
    ) -> CodeMail | None:
        if row.subject_id is None:
            return None
        address = self._contact(connection, row.id)
        return CodeMail(row.id, address, code, row.lang, expires_at) if address else None

    def _address_on_file(
        self, connection: Connection, subject_id: str, asked: inputs.Asked
    ) -> str | None:
        """Where a code may go (an email on file), for a person found on file.

        The email typed, when that is how the person was found; else an email held for
        the one person the phone belongs to.
        """
        if asked.contact_kind == "email":
            return asked.contact.value
        emails = [name for name, kind in self.policy.policy.lookup_items.items() if kind == "email"]
        # Locked (shared) from the row to its items: a re-collection or a correction
        # committed in between would leave a row naming an older key version than the
        # key then read, and the email would fail to open as if tampered with.
        rows = fulfil.in_scope(
            connection, subject_id=subject_id, purposes=(), separated=True, lock=True, share=True
        )
        for row in rows:
            # Only the email is opened, to send the code; nothing else of the person.
            values = open_items(
                connection,
                keys=self.keys,
                collection_id=row.id,
                version=row.key_version,
                separated=row.state == "separated",
                names=emails,
            )
            for value in values.values():
                return value
        return None

    # -- opening a request (the web, staff and representative channels) -----------

    @contextmanager
    def _web_intake(self, asked: inputs.Asked, source_ip: str | None) -> Iterator[WebIntake]:
        """Open a web request: the public actor, the person's digest, a status token, now.

        The block runs in one transaction after the person is looked up; a request the
        hourly caps refuse is recorded as denied, after that transaction rolled back.
        """
        actor = Actor(name="public", kind="public", purposes=frozenset(), source_ip=source_ip)
        assert asked.contact.normalized is not None
        digest = self._index.digest(asked.contact_kind, asked.contact.normalized)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        try:
            with self.transaction() as connection:
                found = subjects.find_subject(
                    connection,
                    index=self._index,
                    kind=asked.contact_kind,
                    value=asked.contact.value,
                    actor=SYSTEM,
                )
                yield WebIntake(connection, actor, digest, token, now, found)
        except codes.RateLimited:
            self._receive_limited(actor, now)
            raise

    def _receive_limited(self, actor: Actor, now: datetime) -> None:
        """Record a request refused by the hourly caps (the actor carries its source)."""
        with self.transaction() as connection:
            self._record(
                connection,
                actor,
                "request_receive",
                now=now,
                outcome="denied",
                code=codes.RateLimited.code,
            )

    def _seal(
        self,
        connection: Connection,
        request_id: str,
        sealed: Sequence[tuple[str, str, bytes]],
        now: datetime,
    ) -> None:
        """Seal each (kind, media type, content) under the request's key."""
        for kind, media_type, content in sealed:
            documents.add(
                connection,
                keys=self.keys,
                request_id=request_id,
                kind=kind,
                content=content,
                media_type=media_type,
                now=now,
            )

    def _create(
        self,
        connection: Connection,
        *,
        asked: inputs.Asked,
        channel: str,
        requester: Requester,
        subject_id: str | None,
        digest: bytes | None,
        token_hash: str | None,
        created_by: str,
        now: datetime,
    ) -> str:
        purposes: Sequence[str] = asked.purposes
        if not purposes and subject_id is not None:
            purposes = self._held_purposes(connection, subject_id)
        request_id = rows.create(
            connection,
            keys=self.keys,
            rules=self.request_rules,
            kind=asked.kind.value,
            channel=channel,
            requester=requester.value,
            subject_id=subject_id,
            contact_kind=asked.contact_kind,
            contact_digest=digest,
            purposes=purposes,
            lang=asked.lang,
            token_hash=token_hash,
            response_days=self.policy.policy.rights.response_days,
            created_by=created_by,
            now=now,
        )
        if asked.corrections:
            documents.add(
                connection,
                keys=self.keys,
                request_id=request_id,
                kind=documents.CORRECTIONS,
                content=inputs.corrections_json(asked.corrections),
                media_type="application/json",
                now=now,
            )
        return request_id

    def _verified(
        self,
        connection: Connection,
        row: Row[Any],
        method: Verification,
        *,
        actor: Actor,
        now: datetime,
    ) -> None:
        rows.move(
            connection,
            row.id,
            to=State.VERIFIED,
            allowed_from=(State.RECEIVED,),
            verification_method=method.value,
            verified_at=now,
            verified_by=actor.name,
            # A verified request is the person's: kept until closed, then three years.
            retain_until=now + self.request_rules.record_retention,
        )
        self._step(connection, row, "verify", actor=actor)
        if Kind(row.kind) in _HOLDING and row.subject_id is not None:
            targets = fulfil.in_scope(
                connection, subject_id=row.subject_id, purposes=rows.purposes_of(row)
            )
            fulfil.place_holds(
                connection, request_id=row.id, targets=targets, by=actor.name, now=now
            )
            self._step(connection, row, "hold", actor=actor)
