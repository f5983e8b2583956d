"""Checking what a request asks before any database work: every problem at once.

Only names the policy declares are echoed; other purposes and items are counted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from haechi.errors import HaechiError, InvalidInput, Problem
from haechi.policy.schema import Policy
from haechi.rights.models import Kind, Requester
from haechi.subjects.values import CleanValue, clean_value, identifier

__all__ = [
    "LANGUAGES",
    "MAX_PURPOSES",
    "PROOF",
    "Asked",
    "check_request",
    "check_requester",
    "corrections_json",
]

LANGUAGES = ("ko", "en")
MAX_PURPOSES = 32
_NEEDS_PURPOSES = frozenset({Kind.SUSPENSION, Kind.WITHDRAWAL})


@dataclass(frozen=True)
class Asked:
    """A request's checked parts: the address kind and forms, purposes, corrections."""

    kind: Kind
    contact_kind: str
    contact: CleanValue
    purposes: tuple[str, ...]
    lang: str
    corrections: dict[str, CleanValue]


def check_request(
    policy: Policy,
    *,
    kind: str,
    channel: str,
    email: str | None,
    phone: str | None,
    purposes: Sequence[str] | None,
    lang: str,
    corrections: Mapping[str, object] | None,
) -> Asked:
    """The checked request, or one error listing every problem."""
    faults: list[Problem] = []

    def fault(field: str, code: str, message: str) -> None:
        faults.append(Problem(field=field, code=code, message=message))

    allowed_kinds = {str(value) for value in policy.rights.kinds}
    if kind not in allowed_kinds:
        fault("kind", "KIND_NOT_OFFERED", f"kind must be one of {', '.join(sorted(allowed_kinds))}")
    if channel not in {str(value) for value in policy.rights.channels}:
        fault("channel", "CHANNEL_NOT_OFFERED", "the policy does not offer this channel")
    if lang not in LANGUAGES:
        fault("lang", "INVALID_LANG", "lang must be ko or en")
    contact: CleanValue | None = None
    contact_kind = "email" if email is not None else "phone"
    if (email is None) == (phone is None):
        fault("email", "ONE_ADDRESS", "give exactly one of email and phone")
    else:
        contact = identifier(contact_kind, email if email is not None else phone or "")
        if contact is None or contact.normalized is None:
            what = "an email address" if contact_kind == "email" else "a phone number"
            fault(contact_kind, "INVALID_ADDRESS", f"{contact_kind} is not {what}")
    wanted = list(purposes or [])
    if len(wanted) > MAX_PURPOSES:
        fault("purposes", "TOO_MANY_PURPOSES", f"at most {MAX_PURPOSES} purposes")
        wanted = []
    unknown = sum(1 for purpose in wanted if purpose not in policy.purposes)
    if unknown:
        fault("purposes", "PURPOSE_NOT_DECLARED", f"{unknown} purpose(s) not declared")
    checked = {purpose for purpose in wanted if purpose in policy.purposes}
    if kind in _NEEDS_PURPOSES and not checked and not unknown:
        fault("purposes", "PURPOSES_REQUIRED", f"a {kind} request names its purposes")
    cleaned = _corrections(policy, kind, corrections, faults)
    if faults or contact is None:
        raise _combined(faults)
    return Asked(Kind(kind), contact_kind, contact, tuple(sorted(checked)), lang, cleaned)


def _corrections(
    policy: Policy, kind: str, corrections: Mapping[str, object] | None, faults: list[Problem]
) -> dict[str, CleanValue]:
    if kind != Kind.CORRECTION:
        if corrections:
            faults.append(
                Problem("corrections", "NOT_A_CORRECTION", "only a correction has corrections")
            )
        return {}
    if not corrections:
        faults.append(Problem("corrections", "CORRECTIONS_REQUIRED", "name the new values"))
        return {}
    if len(corrections) > len(policy.items):
        faults.append(Problem("corrections", "TOO_MANY_ITEMS", "more items than the policy has"))
        return {}
    cleaned: dict[str, CleanValue] = {}
    unknown = 0
    for name, value in corrections.items():
        if name not in policy.items:
            unknown += 1
            continue
        try:
            cleaned[name] = clean_value(name, policy.items[name], value)
        except InvalidInput as error:
            faults.extend(
                Problem(f"corrections.{name}", problem.code, problem.message)
                for problem in error.faults
            )
    if unknown:
        faults.append(
            Problem("corrections", "ITEM_NOT_DECLARED", f"{unknown} item(s) not declared")
        )
    return cleaned


def corrections_json(corrections: Mapping[str, CleanValue]) -> bytes:
    """The corrections as the sealed document keeps them."""
    return json.dumps({name: value.value for name, value in corrections.items()}).encode()


def _combined(faults: list[Problem]) -> HaechiError:
    first = faults[0]
    more = f" (and {len(faults) - 1} more problems)" if len(faults) > 1 else ""
    return InvalidInput(
        first.message + more, field=first.field, code=first.code, problems=tuple(faults)
    )


# What a representative attaches to show they may act (Decree Art. 45; the rule's form
# for a delegate's power of attorney).
PROOF = {
    Requester.DELEGATE: "power_of_attorney",
    Requester.LEGAL_REPRESENTATIVE: "proof_of_representation",
}
_MAX_DOCUMENT_KIND = 30
_MAX_MEDIA_TYPE = 100


def check_requester(
    policy: Policy,
    requester: str,
    representative: Mapping[str, str] | None,
    attachments: Sequence[tuple[str, str, bytes]],
    *,
    max_bytes: int,
) -> Requester:
    """Who acts, checked: a representative is named and attaches their proof."""
    if requester not in set(Requester):
        raise InvalidInput(
            "requester is subject, legal_representative or delegate", field="requester"
        )
    who = Requester(requester)
    for index, (kind, media_type, content) in enumerate(attachments):
        if (
            len(content) > max_bytes
            or not 0 < len(kind) <= _MAX_DOCUMENT_KIND
            or not kind.replace("_", "").isalnum()
            or len(media_type) > _MAX_MEDIA_TYPE
        ):
            raise InvalidInput(
                f"attachments.{index} is too large or badly named", field=f"attachments.{index}"
            )
    if who is Requester.SUBJECT:
        if representative:
            raise InvalidInput(
                "a subject's own request has no representative", field="representative"
            )
        return who
    if not policy.rights.representatives:
        raise InvalidInput("the policy does not accept representatives", field="requester")
    if not representative or not representative.get("name"):
        raise InvalidInput("name the representative", field="representative.name")
    if len(representative) > 8 or any(
        len(str(key)) > 30 or len(str(value)) > 200 for key, value in representative.items()
    ):
        raise InvalidInput("representative has at most 8 short fields", field="representative")
    if not any(kind == PROOF[who] for kind, _, _ in attachments):
        raise InvalidInput(
            f"a {who.value} attaches the {PROOF[who]}", field="attachments", code="PROOF_REQUIRED"
        )
    return who
