"""Payment card number (카드번호).

Format: 13–19 digits, bare or in groups separated by one kind of separator (hyphen
or space) in a known layout: 4-4-4-4, 4-4-4-1…7, 4-6-5 (American Express) or
4-6-4 (Diners). Checks: the Luhn (mod 10) check digit, which rejects the number
when it fails; and the issuer prefix (Visa 4, Mastercard 51–55 and 2221–2720,
American Express 34/37, JCB 35, Diners 30/36/38, Discover 6011/644–649/65,
UnionPay 62, Korean domestic 9) with the lengths those issuers use. A known issuer
raises the confidence; a card word nearby (카드, card…) raises it further.
"""

from __future__ import annotations

from typing import ClassVar

from haechi.discovery.recognizers.base import (
    Keywords,
    RegexRecognizer,
    mask_alnum,
)

__all__ = ["CardRecognizer", "luhn_is_valid"]

CONTEXT = Keywords(
    "카드", "신용", "체크", "결제", "card", "credit", "visa", "master", "amex", "cc#"
)


def luhn_is_valid(digits: str) -> bool:
    """Tell whether a digit string passes the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def known_issuer(digits: str) -> bool:
    """Tell whether the prefix and length belong to a known card issuer."""
    length = len(digits)
    first2 = int(digits[:2])
    first4 = int(digits[:4])
    if digits[0] == "4":
        return length in (13, 16, 19)
    if 51 <= first2 <= 55 or 2221 <= first4 <= 2720:
        return length == 16
    if first2 in (34, 37):
        return length == 15
    if first2 == 35:
        return 16 <= length <= 19
    if first2 in (30, 36, 38):
        return 14 <= length <= 19
    if first4 == 6011 or 644 <= first4 // 10 <= 649 or first2 == 65 or first2 == 62:
        return 16 <= length <= 19
    return digits[0] == "9" and length == 16


class CardRecognizer(RegexRecognizer):
    """Finds payment card numbers; see the module docstring for the checks."""

    name = "card"
    label = "Card number"
    head: ClassVar[bytes | None] = rb"[0-9]"
    pattern: ClassVar[bytes] = (
        rb"[0-9][0-9]{3}(?:[0-9]{9,15}"
        rb"|-[0-9]{4}-[0-9]{4}-[0-9]{1,7}|-[0-9]{6}-[0-9]{4,5}"
        rb"| [0-9]{4} [0-9]{4} [0-9]{1,7}| [0-9]{6} [0-9]{4,5})"
    )

    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Check layout and Luhn; score by issuer and nearby words."""
        raw = buf[start:end]
        digits = raw.translate(None, b"- ").decode("ascii")
        separated = len(digits) != len(raw)
        if not 13 <= len(digits) <= 19 or not luhn_is_valid(digits):
            return None
        score = 0.6 if separated else 0.45
        if known_issuer(digits):
            score += 0.25
        if CONTEXT.before(buf, start):
            score += 0.15
        return min(score, 0.99)

    def mask(self, value: str) -> str:
        """Keep the first four and last four digits, as receipts do."""
        return mask_alnum(value, 4, 4)
