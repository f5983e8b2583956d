"""Versions of the policy: what changed between two, and when a new one may take effect.

A new version is announced at least the notice period (``[notice] days``) before it
takes effect (PIPA Art. 30(2), Decree Art. 31). Between two versions, a purpose that
gains items, changes what its data is used for (its description), keeps data longer or
moves to consent as its legal basis asks its subjects for fresh consent; one that
only narrows (fewer items, a shorter retention) applies without asking.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from haechi.errors import InvalidInput
from haechi.policy.schema import LegalBasis, Policy, Purpose

__all__ = [
    "EFFECTIVE_ZONE",
    "ConsentGap",
    "ItemChange",
    "PolicyDiff",
    "PurposeChange",
    "check_effective",
    "consent_gap",
    "diff_policies",
    "parse_effective",
    "text_diff",
]

#: a plain date (``2026-04-01``) means midnight of that day in Korea
EFFECTIVE_ZONE = ZoneInfo("Asia/Seoul")
_PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Long enough for an ISO-8601 time with fractions and an offset; anything longer is refused.
_MAX_DATE = 40


def parse_effective(text: str) -> datetime:
    """An effective date: a plain date (Asia/Seoul midnight) or a time with an offset.

    A time without an offset is refused: whose midnight it means is not known.
    """
    value = text.strip()
    if not value or len(value) > _MAX_DATE:
        raise InvalidInput("the effective date is empty or too long", field="effective")
    if _PLAIN_DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise InvalidInput("the effective date is not a date", field="effective") from None
        return _in_utc(datetime(day.year, day.month, day.day, tzinfo=EFFECTIVE_ZONE))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            "the effective date must be YYYY-MM-DD or an ISO-8601 time with an offset",
            field="effective",
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            "the effective time must carry a UTC offset (e.g. +09:00)", field="effective"
        )
    return _in_utc(moment)


def _in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a time whose UTC falls outside years 1-9999 is refused."""
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(
            "the effective date is outside the years a date can hold", field="effective"
        ) from None


def check_effective(
    effective_at: datetime,
    *,
    now: datetime,
    notice_days: int,
    first: bool,
    latest_effective: datetime | None,
) -> None:
    """Refuse an effective date the notice rules do not allow.

    The very first version may take effect at once (there is nothing to announce a
    change from); later ones take effect at least ``notice_days`` after ``now`` and
    after every version before them. No version takes effect in the past: that would
    make the record say a document governed before anyone could read it.
    """
    if effective_at < now:
        raise InvalidInput("the effective date is in the past", field="effective")
    if not first and effective_at < now + timedelta(days=notice_days):
        raise InvalidInput(
            f"the effective date must be at least {notice_days} days after the announcement "
            "(the policy's notice period)",
            field="effective",
            code="NOTICE_TOO_SHORT",
        )
    if latest_effective is not None and effective_at <= latest_effective:
        raise InvalidInput(
            "the effective date must come after that of the latest version",
            field="effective",
            code="EFFECTIVE_OUT_OF_ORDER",
        )


@dataclass(frozen=True)
class ItemChange:
    """A declared item that changed: which of its attributes, old and new."""

    name: str
    changed: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class PurposeChange:
    """How one purpose declared in both versions changed."""

    purpose: str
    added_items: tuple[str, ...] = ()
    removed_items: tuple[str, ...] = ()
    retention: tuple[str, str] | None = None
    retention_grows: bool = False
    legal_basis: tuple[str, str] | None = None
    consent: tuple[str, str] | None = None
    description_changed: bool = False
    label_changed: bool = False

    @property
    def needs_consent(self) -> bool:
        """Whether subjects of this purpose must consent again to the new terms."""
        moves_to_consent = self.legal_basis is not None and (
            self.legal_basis[1] == LegalBasis.CONSENT.value
        )
        return bool(self.added_items or self.description_changed or self.retention_grows) or (
            moves_to_consent
        )

    @property
    def narrows(self) -> bool:
        """Whether the purpose keeps less: fewer items or a shorter retention."""
        return bool(self.removed_items) or (self.retention is not None and not self.retention_grows)

    def as_dict(self) -> dict[str, Any]:
        """The change as plain JSON values."""
        return {
            "purpose": self.purpose,
            "items": {"added": list(self.added_items), "removed": list(self.removed_items)},
            "retention": _pair(self.retention),
            "legal_basis": _pair(self.legal_basis),
            "consent": _pair(self.consent),
            "description_changed": self.description_changed,
            "label_changed": self.label_changed,
            "needs_consent": self.needs_consent,
            "narrows": self.narrows,
        }


def _pair(pair: tuple[str, str] | None) -> dict[str, str] | None:
    return None if pair is None else {"from": pair[0], "to": pair[1]}


@dataclass(frozen=True)
class PolicyDiff:
    """The structured change from one version to another."""

    purposes_added: tuple[str, ...] = ()
    purposes_removed: tuple[str, ...] = ()
    purposes_changed: tuple[PurposeChange, ...] = ()
    items_added: tuple[str, ...] = ()
    items_removed: tuple[str, ...] = ()
    items_changed: tuple[ItemChange, ...] = ()
    other_sections: tuple[str, ...] = field(default=())

    @property
    def reconsent_purposes(self) -> tuple[str, ...]:
        """Purposes whose subjects are asked for fresh consent."""
        return tuple(c.purpose for c in self.purposes_changed if c.needs_consent)

    def as_dict(self) -> dict[str, Any]:
        """The change as plain JSON values."""
        return {
            "purposes": {
                "added": list(self.purposes_added),
                "removed": list(self.purposes_removed),
                "changed": [change.as_dict() for change in self.purposes_changed],
            },
            "items": {
                "added": list(self.items_added),
                "removed": list(self.items_removed),
                "changed": [
                    {"name": c.name, "changed": {k: _pair(v) for k, v in c.changed.items()}}
                    for c in self.items_changed
                ],
            },
            "other_sections": list(self.other_sections),
            "reconsent_purposes": list(self.reconsent_purposes),
        }


def _purpose_change(name: str, old: Purpose, new: Purpose) -> PurposeChange | None:
    added = tuple(sorted(new.all_items - old.all_items))
    removed = tuple(sorted(old.all_items - new.all_items))
    old_days, new_days = old.retention_period.approx_days, new.retention_period.approx_days
    retention = None if old_days == new_days else (old.retention, new.retention)
    basis = None if old.legal_basis is new.legal_basis else (old.legal_basis, new.legal_basis)
    consent = None if old.consent is new.consent else (old.consent, new.consent)
    change = PurposeChange(
        purpose=name,
        added_items=added,
        removed_items=removed,
        retention=retention,
        retention_grows=new_days > old_days,
        legal_basis=None if basis is None else (basis[0].value, basis[1].value),
        consent=None if consent is None else (consent[0].value, consent[1].value),
        description_changed=old.description != new.description,
        label_changed=old.label != new.label,
    )
    return None if change == PurposeChange(purpose=name) else change


_ITEM_FIELDS = ("label", "kind", "format", "max_length", "sensitive")
_WHOLE_SECTIONS = (
    "controller",
    "privacy_officer",
    "handling_team",
    "rights",
    "destruction",
    "notice",
    "access_log",
    "remedies",
    "safety_measures",
)


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    """What changed from ``old`` to ``new``: purposes, items, and other sections by name."""
    changes = [
        change
        for name in sorted(set(old.purposes) & set(new.purposes))
        if (change := _purpose_change(name, old.purposes[name], new.purposes[name])) is not None
    ]
    item_changes = []
    for name in sorted(set(old.items) & set(new.items)):
        before, after = old.items[name], new.items[name]
        changed = {
            attribute: (_plain(getattr(before, attribute)), _plain(getattr(after, attribute)))
            for attribute in _ITEM_FIELDS
            if getattr(before, attribute) != getattr(after, attribute)
        }
        if changed:
            item_changes.append(ItemChange(name, changed))
    return PolicyDiff(
        purposes_added=tuple(sorted(set(new.purposes) - set(old.purposes))),
        purposes_removed=tuple(sorted(set(old.purposes) - set(new.purposes))),
        purposes_changed=tuple(changes),
        items_added=tuple(sorted(set(new.items) - set(old.items))),
        items_removed=tuple(sorted(set(old.items) - set(new.items))),
        items_changed=tuple(item_changes),
        other_sections=tuple(
            section for section in _WHOLE_SECTIONS if getattr(old, section) != getattr(new, section)
        ),
    )


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "value"):
        return value.value
    return value


@dataclass(frozen=True)
class ConsentGap:
    """What a consent given under an older version does not cover under the new one.

    ``everything``: the use itself changed (a new description, or consent became the
    basis), so nothing is covered; otherwise ``items`` are the items the purpose
    gained. A longer retention is not a gap here: the old expiry stays until fresh
    consent moves it.
    """

    everything: bool
    items: frozenset[str]

    @property
    def empty(self) -> bool:
        """Whether the old consent covers all of the new terms."""
        return not self.everything and not self.items


def consent_gap(old: Purpose, new: Purpose) -> ConsentGap:
    """What a consent to ``old`` leaves uncovered under ``new``."""
    moves_to_consent = new.needs_consent and not old.needs_consent
    everything = moves_to_consent or old.description != new.description
    return ConsentGap(everything=everything, items=new.all_items - old.all_items)


def text_diff(old: str, new: str, *, old_name: str, new_name: str) -> str:
    """A unified diff of two rendered documents."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_name,
        tofile=new_name,
    )
    return "".join(lines)
