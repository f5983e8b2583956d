"""Foreign registration number (외국인등록번호).

Format: ``YYMMDD-GNNNNNC`` (hyphen optional) with G in 5–8. Checks: a real, past
birth date in the century G gives; check digit C = (13 − Σ dᵢwᵢ mod 11) mod 10
with weights 2,3,4,5,6,7,8,9,2,3,4,5. As for resident numbers, numbers issued
from October 2020 have a random tail: a failed check digit lowers the confidence
(medium for birth dates from 2020-10-01, low before) instead of rejecting.
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

__all__ = ["ForeignRegistrationRecognizer"]

CONTEXT = Keywords("외국인", "등록번호", "foreign", "alien", "arc", "frn", "residence card")


def frn_check_digit(digits: str) -> int:
    """Return the check digit of a foreign registration number."""
    return (13 - weighted_sum(digits) % 11) % 10


class ForeignRegistrationRecognizer(RegexRecognizer):
    """Finds foreign registration numbers; see the module docstring for the checks."""

    name = "foreign_rrn"
    label = "Foreign registration number"
    head: ClassVar[bytes | None] = rb"[0-9]"
    pattern: ClassVar[bytes] = (
        rb"[0-9][0-9](?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-?[5-8][0-9]{6}"
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
        if frn_check_digit(digits) == int(digits[12]):
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
