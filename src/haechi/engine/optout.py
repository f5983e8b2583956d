"""One-click opt-out links: a company's mailer puts them in its mails; following one withdraws.

:meth:`OptOutMixin.optout_link` mints a link token for one subject and one purpose
whose legal basis is consent, for an actor granted that purpose (a service token or a
handler; never an auditor). The token is sealed (AES-256-GCM under a key derived from
the key provider, ``derive("optout-link-v1")``): it carries the subject id, the purpose
and an expiry, none of them readable in the URL, and no one can forge or alter one.

:meth:`OptOutMixin.optout` withdraws consent for that purpose with the token alone (no
login): every live collection of the subject for the purpose stops being used at once,
each withdrawal an audit event; following the link again changes nothing and is an
event too. A bad or expired token is refused, and the refusal recorded.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from haechi.access.decision import Actor
from haechi.access.roles import Role
from haechi.engine import rights_actions as scope
from haechi.engine.base import EngineBase
from haechi.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from haechi.policy.schema import LegalBasis
from haechi.subjects import service as subjects

__all__ = ["MAX_LINK_DAYS", "MAX_TOKEN", "OPTOUT_METHOD", "OptOut", "OptOutMixin"]

#: the longest a link may stay valid (days); a mailer mints one per mail it sends
MAX_LINK_DAYS = 366
#: the longest token accepted: anything longer is refused unread
MAX_TOKEN = 400
#: the consent method recorded for a withdrawal through a link
OPTOUT_METHOD = "one-click-link"
_CONTEXT = b"haechi-optout-v1"
_NONCE = 12


@dataclass(frozen=True)
class OptOut:
    """What a link is for, and what following it did."""

    purpose: str
    expires_at: datetime
    withdrawn: int = 0  # collections whose consent this withdrawal ended (0: already so)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OptOutMixin(EngineBase):
    """Minting and following one-click opt-out links."""

    def _optout_aead(self) -> AESGCM:
        return AESGCM(self.keys.derive("optout-link-v1"))

    def optout_link(
        self, subject_id: str, *, purpose: str, valid_days: int = 90, actor: Actor
    ) -> str:
        """A token for ``subject_id`` to withdraw consent for ``purpose`` with one click."""
        policy = self.policy.policy
        if not 1 <= valid_days <= MAX_LINK_DAYS:
            raise InvalidInput(f"valid_days is between 1 and {MAX_LINK_DAYS}", field="valid_days")
        declared = policy.purposes.get(purpose)
        if declared is None or declared.legal_basis is not LegalBasis.CONSENT:
            raise InvalidInput(
                "purpose is not a declared purpose that rests on consent", field="purpose"
            )
        now = self.clock()
        with self.transaction() as connection:
            if actor.role == Role.AUDITOR or not (
                actor.may_serve(purpose) or actor.role == Role.PRIVACY_OFFICER
            ):
                refusal: PermissionDenied | NotFound | None = PermissionDenied(
                    "you are not granted this purpose", code="NO_GRANT"
                )
            elif not scope.in_scope(connection, subject_id=subject_id, purposes=(purpose,)):
                refusal = NotFound("no live collection for this purpose", field="subject_id")
            else:
                refusal = None
            self._record(
                connection,
                actor,
                "optout_link",
                now=now,
                outcome="allowed" if refusal is None else "denied",
                code=refusal.code if refusal else None,
                subject_id=subject_id if refusal is None or isinstance(refusal, NotFound) else None,
                purpose=purpose,
            )
        if refusal is not None:
            raise refusal
        expires = int((now + timedelta(days=valid_days)).timestamp())
        payload = json.dumps({"s": subject_id, "p": purpose, "x": expires}).encode()
        nonce = os.urandom(_NONCE)
        return _b64(nonce + self._optout_aead().encrypt(nonce, payload, _CONTEXT))

    def _opened(self, token: str) -> tuple[str, str, datetime] | None:
        if not 0 < len(token) <= MAX_TOKEN:
            return None
        try:
            raw = _unb64(token)
            payload = self._optout_aead().decrypt(raw[:_NONCE], raw[_NONCE:], _CONTEXT)
            fields = json.loads(payload)
            return str(fields["s"]), str(fields["p"]), datetime.fromtimestamp(fields["x"], UTC)
        except (binascii.Error, ValueError, InvalidTag, KeyError, TypeError):
            return None

    def optout_preview(self, token: str) -> OptOut:
        """What ``token`` is for, read without changing anything (for the confirm page)."""
        opened = self._opened(token)
        if opened is None:
            raise InvalidInput("the link is not valid", field="token", code="LINK_INVALID")
        _, purpose, expires = opened
        return OptOut(purpose, expires)

    def optout(self, token: str, *, source_ip: str | None) -> OptOut:
        """Withdraw the consent ``token`` stands for; following it twice changes nothing more."""
        opened = self._opened(token)
        now = self.clock()
        actor = Actor(name="public", kind="public", purposes=frozenset(), source_ip=source_ip)
        if opened is None or opened[2] <= now:
            code = "LINK_INVALID" if opened is None else "LINK_EXPIRED"
            with self.transaction() as connection:
                self._record(
                    connection,
                    actor,
                    "withdraw_consent",
                    now=now,
                    outcome="denied",
                    code=code,
                    subject_id=opened[0] if opened else None,
                    purpose=opened[1] if opened else None,
                )
            if opened is None:
                raise InvalidInput("the link is not valid", field="token", code=code)
            raise Conflict("the link has expired", field="token", code=code)
        subject_id, purpose, expires = opened
        withdrawn = 0
        with self.transaction() as connection:
            live = scope.in_scope(connection, subject_id=subject_id, purposes=(purpose,), lock=True)
            for row in live:
                if not row.consented:
                    continue
                subjects.withdraw_consent(
                    connection,
                    policy=self.policy,
                    collection_id=row.id,
                    method=OPTOUT_METHOD,
                    source_ip=source_ip,
                    now=now,
                )
                self._record(
                    connection,
                    actor,
                    "withdraw_consent",
                    now=now,
                    subject_id=subject_id,
                    collection_id=row.id,
                    purpose=purpose,
                    reason="one-click opt-out",
                )
                withdrawn += 1
            if not withdrawn:
                # Nothing left to withdraw: the click is still part of the record.
                self._record(
                    connection,
                    actor,
                    "withdraw_consent",
                    now=now,
                    code="ALREADY_WITHDRAWN",
                    subject_id=subject_id,
                    purpose=purpose,
                    reason="one-click opt-out",
                )
        return OptOut(purpose, expires, withdrawn)
