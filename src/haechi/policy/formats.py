"""Phone numbers and web addresses a policy file states, validated as the public will use them.

A policy is read by people who will dial its numbers and open its addresses, so a typo
is a problem ``policy check`` reports, not a line that fails someone later.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import phonenumbers
from phonenumbers import shortnumberinfo

__all__ = ["check_phone", "check_web_address"]

# Numbers are read as dialled in Korea, where the controller and the institutions are.
_REGION = "KR"
_DIALLED = re.compile(r"\+?[0-9][0-9 ()-]*[0-9]")


def check_phone(value: str) -> str:
    """``value`` if it is a Korean phone number a person can dial; raise ValueError otherwise.

    Full numbers (02-555-0100, 1833-6972, +82 …) are checked by ``phonenumbers``; the
    short codes of public services (118, 182, 1301, …) are not full numbers, so they
    are accepted explicitly when ``phonenumbers`` knows them as Korean short numbers.
    """
    # phonenumbers reads letters as keypad digits (1-800-FLOWERS); a policy gives digits.
    if not _DIALLED.fullmatch(value):
        raise ValueError("is not a phone number: digits, spaces, hyphens, brackets, a leading +")
    try:
        number = phonenumbers.parse(value, _REGION)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if phonenumbers.is_valid_number(number):
        return value
    if number.country_code == 82 and shortnumberinfo.is_valid_short_number_for_region(
        number, _REGION
    ):
        return value
    raise ValueError("is not a valid Korean phone number or short code (e.g. 02-555-0100, 118)")


def check_web_address(value: str) -> str:
    """``value`` if it is an http(s) address with a host; raise ValueError otherwise."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValueError("is not a web address") from None
    if parts.scheme not in {"https", "http"}:
        raise ValueError("must start with https:// or http://")
    if not host or "." not in host.strip("."):
        raise ValueError("must name a host (e.g. https://www.example.com)")
    if any(char.isspace() for char in value):
        raise ValueError("must not contain spaces")
    return value
