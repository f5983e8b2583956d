"""What the rights services take and give: kinds, states, rules and the views of a request.

Nothing here holds a personal value except :class:`CodeMail` (the address a one-time
code goes to, and the code) and :class:`SubjectExport` (the answer to an access
request): both exist only in memory, for the surface that sends them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

__all__ = [
    "CLOSED",
    "AnswerHook",
    "CodeMail",
    "Delivery",
    "Kind",
    "PostponeReason",
    "PublicReceipt",
    "PublicStatus",
    "RefusalReason",
    "RequestInfo",
    "RequestRules",
    "Requester",
    "ResultMail",
    "State",
    "StepRecord",
    "SubjectExport",
    "Verification",
]


class Kind(StrEnum):
    """What a person asks for (PIPA Art. 35–37)."""

    ACCESS = "access"
    CORRECTION = "correction"
    DELETION = "deletion"
    SUSPENSION = "suspension"
    WITHDRAWAL = "withdrawal"


class State(StrEnum):
    """received → verified → in_progress → completed | refused; postponed once, on the way."""

    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    POSTPONED = "postponed"
    COMPLETED = "completed"
    REFUSED = "refused"


CLOSED = frozenset({State.COMPLETED, State.REFUSED})


class Requester(StrEnum):
    """Who makes the request: the person, or someone acting for them (Decree Art. 45)."""

    SUBJECT = "subject"
    LEGAL_REPRESENTATIVE = "legal_representative"
    DELEGATE = "delegate"


class Verification(StrEnum):
    """How the requester's identity was confirmed."""

    EMAIL_CODE = "email_code"  # the web channel's one-time code; nothing else verifies it
    ID_DOCUMENT = "id_document"
    CALLBACK = "callback"  # a call back to a number on file
    REPLY_FROM_ADDRESS = "reply_from_address"  # a reply from an address on file
    PORTAL = "portal"  # identity checked by the national privacy portal
    IN_PERSON = "in_person"


STAFF_METHODS = frozenset(Verification) - {Verification.EMAIL_CODE}


class RefusalReason(StrEnum):
    """Why a request is refused (PIPA Art. 35④, 36①, 37②)."""

    LAW_REQUIRES = "LAW_REQUIRES"
    OTHERS_LIFE_OR_PROPERTY = "OTHERS_LIFE_OR_PROPERTY"
    CONTRACT_CANNOT_BE_PERFORMED = "CONTRACT_CANNOT_BE_PERFORMED"
    PUBLIC_DUTY = "PUBLIC_DUTY"
    IDENTITY_NOT_CONFIRMED = "IDENTITY_NOT_CONFIRMED"
    LEGAL_HOLD = "LEGAL_HOLD"
    NOTHING_HELD = "NOTHING_HELD"


class PostponeReason(StrEnum):
    """Why an answer is postponed (Decree Art. 41④)."""

    JUSTIFIED_GROUNDS = "JUSTIFIED_GROUNDS"
    NEEDS_MORE_DOCUMENTS = "NEEDS_MORE_DOCUMENTS"
    LARGE_VOLUME = "LARGE_VOLUME"


class Delivery(StrEnum):
    """How the answer reached the person."""

    MAIL = "mail"
    POST = "post"
    FAX = "fax"


@dataclass(frozen=True)
class RequestRules:
    """Limits of the rights service; the defaults are this installation's policy.

    ``record_retention``: how long a closed request, its documents and its key are
    kept (3 years after closing, the floor the Standards set for records of access
    rights, taken here for the answer to a person too); an unverified web request is
    kept ``unverified_retention``.
    """

    code_ttl: timedelta = timedelta(minutes=10)
    code_tries: int = 5
    codes_per_address_hour: int = 5
    codes_per_source_hour: int = 20
    record_retention: timedelta = timedelta(days=3 * 365)
    unverified_retention: timedelta = timedelta(days=30)
    due_soon: timedelta = timedelta(days=2)
    max_document_bytes: int = 5 * 1024 * 1024


@dataclass(frozen=True)
class CodeMail:
    """A one-time code to mail: only ever built for an address on file."""

    request_id: str
    address: str
    code: str
    lang: str
    expires_at: datetime


@dataclass(frozen=True)
class PublicReceipt:
    """What a web request is answered with, the same for known and unknown people."""

    request_id: str
    status_token: str
    code_mail: CodeMail | None


@dataclass(frozen=True)
class PublicStatus:
    """What the requester sees with their status token."""

    request_id: str
    kind: str
    state: str
    received_at: datetime
    due_at: datetime
    refusal_reason: str | None = None
    refusal_until: datetime | None = None
    postpone_reason: str | None = None


@dataclass(frozen=True)
class StepRecord:
    """One step of a request's history: its audit event."""

    event_id: int
    step: str
    occurred_at: datetime
    actor: str
    outcome: str
    code: str | None


@dataclass(frozen=True)
class RequestInfo:
    """A request as staff see it: ids, codes and dates, never the person's values."""

    id: str
    kind: str
    channel: str
    state: str
    requester: str
    subject_id: str | None
    purposes: list[str]
    lang: str
    verification_method: str | None
    verified_at: datetime | None
    received_at: datetime
    original_due_at: datetime
    due_at: datetime
    postponed_at: datetime | None
    postpone_reason: str | None
    refusal_reason: str | None
    refusal_until: datetime | None
    started_at: datetime | None
    closed_at: datetime | None
    outcome: dict[str, Any] | None
    delivery: str | None
    delivered_at: datetime | None
    documents: list[dict[str, Any]] = field(default_factory=list)
    history: list[StepRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The request as JSON."""
        data: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if name == "history":
                data[name] = [
                    {**step.__dict__, "occurred_at": step.occurred_at.isoformat()} for step in value
                ]
            elif isinstance(value, datetime):
                data[name] = value.isoformat()
            else:
                data[name] = value
        return data


@dataclass(frozen=True)
class SubjectExport:
    """Everything held about one person: the answer to an access request.

    ``data`` is JSON-ready (see :mod:`haechi.rights.exports`): it holds the person's
    decrypted values and lives only as long as the answer is being sent.
    """

    subject_id: str
    generated_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class ResultMail:
    """The answer to mail to a verified address."""

    request_id: str
    address: str
    kind: str
    state: str
    lang: str
    export: SubjectExport | None = None
    outcome: dict[str, Any] = field(default_factory=dict)


AnswerHook = Callable[[Connection, ResultMail], object]
"""Takes a request's answer inside the transaction that decides it (the surface queues
it in the outbox there), so the answer is stored, or not, with the request's new state."""
