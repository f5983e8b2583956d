"""Validating and normalising item values by the kind the policy gives them.

:func:`identifier` is the one normaliser of emails and phone numbers: collection,
lookup and rights requests all turn a typed value into its blind-index form through
it, so the same person is found however the value was typed.

- Email: NFC, then email-validator's normal form (the domain lowercased and IDNA-decoded,
  so ``eve@xn--bcher-kva.de`` is ``eve@bücher.de``), then lowercased as a whole.
- Phone: NFKC (full-width digits become ASCII), only digits and ``+-.() `` allowed, then
  parsed by ``phonenumbers`` with KR as the default region and kept in E.164
  (``010-2345-6789`` and ``+82 10 2345 6789`` are both ``+821023456789``).

Messages name the item, never the value.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from haechi.errors import InvalidInput
from haechi.policy.schema import Item, ItemKind

__all__ = ["CleanValue", "clean_value", "identifier", "unsafe_text"]

_DEFAULT_REGION = "KR"
# What a phone number may be typed with, after NFKC: digits and the usual separators.
_PHONE_TEXT = re.compile(r"^\+?[0-9\s\-.()]+$")
# C0 controls other than tab and newlines, DEL, C1 controls (U+0080-U+009F: CSI
# U+009B starts an escape sequence in a terminal that honours 8-bit controls), the
# bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069:
# "bidi\u202egnp.exe" shows as "bidiexe.png" on a staff page) and UTF-16 surrogates
# (which no encoder accepts): never stored, never indexed. Right-to-left text needs
# none of them (its marks, U+200E/U+200F, stay). The web forms refuse the same
# (``haechi.web.forms``).
_FORBIDDEN = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Line breaks besides CR and LF: a one-line value holds none of them.
_LINE_BREAKS = re.compile(r"[\n\r\u2028\u2029]")
# Longest typed identifier worth parsing (RFC 5321 caps a path at 256 octets).
_MAX_IDENTIFIER = 320
# A raw value may shrink under NFC and trimming, but not by more than this factor.
_RAW_SLACK = 4


@dataclass(frozen=True)
class CleanValue:
    """A validated value and, for lookup kinds, its normalised form."""

    value: str
    normalized: str | None


def unsafe_text(text: str) -> bool:
    """Whether ``text`` holds a C0 or C1 control, a bidi control, NUL or a lone surrogate."""
    return _FORBIDDEN.search(text) is not None


def identifier(kind: ItemKind | str, raw: str) -> CleanValue | None:
    """The stored and blind-index forms of an email or phone, or None if it is not one.

    ``value`` is what is sealed (email-validator's normal form; a phone as typed, NFC),
    ``normalized`` what the blind index hashes.
    """
    if len(raw) > _MAX_IDENTIFIER or unsafe_text(raw):
        return None
    text = unicodedata.normalize("NFC", raw.strip())
    if kind == ItemKind.EMAIL:
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError:
            return None
        return CleanValue(checked.normalized, checked.normalized.lower())
    if kind == ItemKind.PHONE:
        if not _PHONE_TEXT.match(unicodedata.normalize("NFKC", text)):
            return None
        try:
            number = phonenumbers.parse(text, _DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return CleanValue(
            text, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        )
    return None


def clean_value(name: str, item: Item, raw: object) -> CleanValue:
    """Validate ``raw`` for ``item``; raise InvalidInput naming ``items.<name>``."""
    field = f"items.{name}"
    if not isinstance(raw, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if len(raw) > item.max_length * _RAW_SLACK:
        raise InvalidInput(f"{field} is longer than {item.max_length} characters", field=field)
    if unsafe_text(raw):
        raise InvalidInput(f"{field} contains control characters", field=field)
    value = unicodedata.normalize("NFC", raw.strip())
    if not value:
        raise InvalidInput(f"{field} is empty", field=field)
    if len(value) > item.max_length:
        raise InvalidInput(f"{field} is longer than {item.max_length} characters", field=field)
    if item.kind is not ItemKind.TEXT and _LINE_BREAKS.search(value):
        raise InvalidInput(f"{field} contains control characters", field=field)
    if item.kind in (ItemKind.PHONE, ItemKind.EMAIL):
        cleaned = identifier(item.kind, value)
        if cleaned is None:
            what = "phone number" if item.kind is ItemKind.PHONE else "email address"
            raise InvalidInput(f"{field} is not a valid {what}", field=field)
        return cleaned
    return CleanValue(value, None)
