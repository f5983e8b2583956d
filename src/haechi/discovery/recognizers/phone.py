"""Korean telephone number (전화번호).

Formats: mobile ``01X-XXX(X)-XXXX`` (010 always has eight subscriber digits);
Seoul ``02-XXX(X)-XXXX``; area codes 031–033, 041–044, 051–055, 061–064; internet
phones 070; free calls 080; nationwide numbers ``15xx/16xx/18xx-XXXX``; and the
international ``+82`` form that drops the leading 0 (``+82 10-1234-5678``,
``+82-(0)2-…``). Separators are a hyphen, a dot or a space, used consistently; the
area code may sit in parentheses. Checks: a known prefix, a subscriber exchange
not starting with 0 (nor 1 for landlines), and the digit count that prefix allows. Separated
numbers score high; bare landline digits and bare nationwide numbers need a phone
word nearby (전화, tel…).
"""

from __future__ import annotations

import re
from typing import ClassVar

from haechi.discovery.recognizers.base import (
    Keywords,
    RegexRecognizer,
    mask_alnum,
)

__all__ = ["PhoneRecognizer"]

PREFIX = rb"(?:1[016789]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|[78]0)"
CONTEXT = Keywords(
    "전화", "연락처", "휴대폰", "핸드폰", "휴대전화", "번호", "팩스", "고객센터", "대표",
    "tel", "phone", "mobile", "cell", "fax", "call", "contact",
)  # fmt: skip
_SEPARATORS = re.compile(rb"[-. ]")
_DIGITS = re.compile(rb"[0-9]+")


class PhoneRecognizer(RegexRecognizer):
    """Finds Korean telephone numbers; see the module docstring for the checks."""

    name = "phone"
    label = "Telephone number"
    pattern: ClassVar[bytes] = (
        rb"\+82[-. ]?(?:\(0\)[-. ]?)?" + PREFIX + rb"[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}"
        rb"|\(0" + PREFIX + rb"\)[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}"
        rb"|0" + PREFIX + rb"[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}"
        rb"|1[568][0-9]{2}[-. ]?[0-9]{4}"
    )

    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Check prefix, exchange and length; score by separators and nearby words."""
        parsed = _national(buf[start:end])
        if parsed is None:
            return None
        digits, separated = parsed
        context = CONTEXT.before(buf, start)
        if digits[0] == "1":  # nationwide 15xx/16xx/18xx
            if separated:
                return 0.95 if context else 0.75
            return 0.75 if context else None
        exchange_at = 2 if digits.startswith("02") else 3
        # Mobile exchanges 0xxx are unassigned; 1xxx too, but "010-1234-5678" is the
        # number everyone types as an example, so it is kept.
        if digits[exchange_at] == "0" or (digits[exchange_at] == "1" and digits[1] != "1"):
            return None
        if digits.startswith("010"):
            if len(digits) != 11:
                return None
            return 0.97 if separated or context else 0.85
        if digits.startswith("01"):
            if len(digits) not in (10, 11):
                return None
            return 0.9 if separated or context else 0.6
        allowed = (9, 10) if digits.startswith("02") else (10, 11)
        if len(digits) not in allowed:
            return None
        if separated:
            return 0.95 if context else 0.85
        return 0.8 if context else 0.4

    def mask(self, value: str) -> str:
        """Keep the prefix (three characters) and the last two digits."""
        return mask_alnum(value, 3, 2)


def _national(raw: bytes) -> tuple[str, bool] | None:
    """Return the national digits (leading 0) and whether the number was separated.

    ``None`` when the separators after the area code are mixed (``010-1234 5678``).
    """
    body = raw
    separated = False
    if body.startswith(b"+82"):
        body = body[3:].lstrip(b"-. ")
        if body.startswith(b"(0)"):
            body = body[3:].lstrip(b"-. ")
        separated = True
        body = b"0" + body
    elif body.startswith(b"("):
        close = body.index(b")")
        area, rest = body[1:close], body[close + 1 :].lstrip(b"-. ")
        if len(set(_SEPARATORS.findall(rest))) > 1:
            return None
        return (area + b"".join(_DIGITS.findall(rest))).decode("ascii"), True
    separators = set(_SEPARATORS.findall(body))
    if len(separators) > 1:
        return None
    return b"".join(_DIGITS.findall(body)).decode("ascii"), separated or bool(separators)
