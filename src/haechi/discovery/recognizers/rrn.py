"""Resident registration number (주민등록번호).

Format: ``YYMMDD-GNNNNNC`` (hyphen optional), G in 1–4 (9 or 0 for people born in
the 1800s). Checks: the first six digits are a real, past birth date in the
century G gives; check digit C = (11 − Σ dᵢwᵢ mod 11) mod 10 with weights
2,3,4,5,6,7,8,9,2,3,4,5. Numbers issued from October 2020 carry a random tail, so
a failed check digit lowers the confidence instead of rejecting the number: to
medium when the birth date is on or after 2020-10-01 (such a number can only be a
new one), to low otherwise.
"""

from __future__ import annotations

from typing import ClassVar

from haechi.discovery.recognizers._registration import (
    RANDOM_TAIL_FROM,
    birth_date,
    digits_of,
    weighted_sum,
)
from haechi.discovery.recognizers.base import (
    Keywords,
    RegexRecognizer,
    mask_alnum,
)

__all__ = ["ResidentRegistrationRecognizer"]

CONTEXT = Keywords("주민", "주민번호", "주민등록", "rrn", "resident", "생년월일", "jumin")


def rrn_check_digit(digits: str) -> int:
    """Return the check digit of a resident registration number."""
    return (11 - weighted_sum(digits) % 11) % 10


class ResidentRegistrationRecognizer(RegexRecognizer):
    """Finds resident registration numbers; see the module docstring for the checks."""

    name = "rrn"
    label = "Resident registration number"
    head: ClassVar[bytes | None] = rb"[0-9]"
    pattern: ClassVar[bytes] = (
        rb"[0-9][0-9](?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-?[0-49][0-9]{6}"
    )

    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Score a candidate by date, check digit and nearby words."""
        raw = buf[start:end]
        digits = digits_of(raw)
        born = birth_date(digits)
        if born is None:
            return None
        hyphen = b"-" in raw
        context = CONTEXT.before(buf, start)
        if rrn_check_digit(digits) == int(digits[12]):
            score = 0.95 if hyphen else 0.85
        elif born >= RANDOM_TAIL_FROM:
            score = 0.6 if hyphen else 0.45
        else:
            score = 0.35 if hyphen else 0.2
        if context:
            score = min(0.99, score + 0.2)
        return score

    def mask(self, value: str) -> str:
        """Keep the first two digits (the birth year's) only."""
        return mask_alnum(value, 2, 0)
