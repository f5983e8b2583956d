"""Arithmetic shared by the resident and foreign registration number recognizers.

Both numbers are ``YYMMDD-GNNNNNC``: a birth date, a digit G that gives sex and
century, five digits, and a check digit over the first twelve digits with weights
2,3,4,5,6,7,8,9,2,3,4,5. Numbers issued from October 2020 have a random tail, so
the check digit only tells an older number apart.
"""

from __future__ import annotations

from datetime import date
from operator import mul

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
