"""Validating and normalising item values by the kind the policy gives them.

Messages name the item, never the value.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from haechi.errors import InvalidInput
from haechi.policy.schema import Item, ItemKind

__all__ = ["CleanValue", "clean_value", "normalize_phone"]

# Korean numbers once separators and a +82 prefix are gone: mobile 010/011/016-019,
# Seoul 02, the provinces' 031-033, 041-044, 051-055, 061-064, internet phones 070,
# free-call 080, personal numbers 050x, and the 8-digit nationwide 15xx/16xx/18xx.
_PHONE = re.compile(
    r"^(?:01[016789]\d{7,8}|02\d{7,8}|0(?:3[1-3]|4[1-4]|5[1-5]|6[1-4])\d{7,8}"
    r"|070\d{8}|080\d{7,8}|050\d{8,9}|1[568]\d{6})$"
)
_SEPARATORS = re.compile(r"[\s\-.()]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class CleanValue:
    """A validated value and, for lookup kinds, its normalised form."""

    value: str
    normalized: str | None


def normalize_phone(raw: str) -> str | None:
    """Digits of a Korean phone number in domestic form, or None if it is not one."""
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+82"):
        digits = "0" + digits[3:].lstrip("0")
    elif digits.startswith("0082"):
        digits = "0" + digits[4:].lstrip("0")
    if not digits.isdigit() or not _PHONE.match(digits):
        return None
    return digits


def clean_value(name: str, item: Item, raw: object) -> CleanValue:
    """Validate ``raw`` for ``item``; raise InvalidInput naming ``items.<name>``."""
    field = f"items.{name}"
    if not isinstance(raw, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    value = unicodedata.normalize("NFC", raw.strip())
    if not value:
        raise InvalidInput(f"{field} is empty", field=field)
    if len(value) > item.max_length:
        raise InvalidInput(f"{field} is longer than {item.max_length} characters", field=field)
    multiline = item.kind is ItemKind.TEXT
    if _CONTROL.search(value) or (not multiline and ("\n" in value or "\r" in value)):
        raise InvalidInput(f"{field} contains control characters", field=field)
    if item.kind is ItemKind.PHONE:
        normalized = normalize_phone(value)
        if normalized is None:
            raise InvalidInput(f"{field} is not a Korean phone number", field=field)
        return CleanValue(value, normalized)
    if item.kind is ItemKind.EMAIL:
        try:
            checked = validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            raise InvalidInput(f"{field} is not a valid email address", field=field) from None
        return CleanValue(checked.normalized, checked.normalized.lower())
    return CleanValue(value, None)
