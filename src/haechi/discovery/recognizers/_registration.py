"""Arithmetic shared by the resident and foreign registration number recognizers.

Both numbers are ``YYMMDD-GNNNNNC``: a birth date, a digit G that gives sex and
century, five digits, and a check digit over the first twelve digits with weights
2,3,4,5,6,7,8,9,2,3,4,5. Numbers issued from October 2020 have a random tail, so
the check digit only tells an older number apart.
"""

from __future__ import annotations

from datetime import date
from operator import mul
from typing import ClassVar

from haechi.discovery.recognizers.base import Keywords, RegexRecognizer, mask_alnum

WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
RANDOM_TAIL_FROM = date(2020, 10, 1)
_VALUES = bytes(range(256)).replace(b"0123456789", bytes(range(10)))

# G → century of birth
CENTURY = {
    "9": 1800, "0": 1800,
    "1": 1900, "2": 1900, "5": 1900, "6": 1900,
    "3": 2000, "4": 2000, "7": 2000, "8": 2000,
}  # fmt: skip


def digits_of(raw: bytes) -> str:
    """Return the thirteen digits of ``raw`` without its separator."""
    return raw.replace(b"-", b"").replace(b" ", b"").decode("ascii")


_TODAY = date.today()  # a process that runs past midnight is a day behind: harmless


def birth_date(digits: str, today: date | None = None) -> date | None:
    """Return the birth date encoded by ``digits``, or ``None`` if it is no real past date."""
    century = CENTURY.get(digits[6])
    if century is None:
        return None
    try:
        born = date(century + int(digits[0:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return None
    if born > (today or _TODAY):
        return None
    return born


def weighted_sum(digits: str) -> int:
    """Return Σ dᵢwᵢ over the first twelve digits."""
    return sum(map(mul, digits[:12].encode("ascii").translate(_VALUES), WEIGHTS))


class RegistrationRecognizer(RegexRecognizer):
    """Scores ``YYMMDD-GNNNNNC`` candidates by birth date, check digit and context.

    A subclass names its G digits in ``pattern``, its context words, and the constant
    of its check digit: C = (``check_constant`` − Σ dᵢwᵢ mod 11) mod 10.
    """

    context: ClassVar[Keywords]
    check_constant: ClassVar[int]
    head: ClassVar[bytes | None] = rb"[0-9]"

    @classmethod
    def check_digit(cls, digits: str) -> int:
        """Return the check digit of the first twelve ``digits``."""
        return (cls.check_constant - weighted_sum(digits) % 11) % 10

    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Score a candidate by date, check digit and nearby words."""
        raw = buf[start:end]
        digits = digits_of(raw)
        born = birth_date(digits)
        if born is None:
            return None
        hyphen = b"-" in raw
        if self.check_digit(digits) == int(digits[12]):
            score = 0.95 if hyphen else 0.85
        elif born >= RANDOM_TAIL_FROM:
            score = 0.6 if hyphen else 0.45
        else:
            score = 0.35 if hyphen else 0.2
        if self.context.before(buf, start):
            score = min(0.99, score + 0.2)
        return score

    def mask(self, value: str) -> str:
        """Keep the first two digits (the birth year's) only."""
        return mask_alnum(value, 2, 0)
