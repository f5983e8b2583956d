"""ISO-8601 durations of the policy file (``P1Y``, ``P6M``, ``P30D``), as calendar periods."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from dateutil.relativedelta import relativedelta

__all__ = ["Period", "parse_period"]

# Only the date part: retention is counted in calendar years, months, weeks and days.
_PERIOD = re.compile(r"P(?:(?P<y>\d+)Y)?(?:(?P<m>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?")


@dataclass(frozen=True)
class Period:
    """A calendar period: adding one year to 29 February lands on 28 February."""

    years: int = 0
    months: int = 0
    days: int = 0
    text: str = ""

    def after(self, moment: datetime) -> datetime:
        """The moment this period after ``moment``."""
        return moment + relativedelta(years=self.years, months=self.months, days=self.days)

    def before(self, moment: datetime) -> datetime:
        """The moment this period before ``moment``."""
        return moment - relativedelta(years=self.years, months=self.months, days=self.days)

    @property
    def approx_days(self) -> float:
        """Length in days, months counted as 30.44 days (for comparisons only)."""
        return self.years * 365.25 + self.months * 30.44 + self.days

    def __str__(self) -> str:
        return self.text


def parse_period(text: str, *, allow_zero: bool = False) -> Period:
    """Parse ``PnYnMnWnD``; raise ValueError naming the expected form otherwise.

    A zero period (``P0D``) is refused unless ``allow_zero`` (a backup window may be none).
    """
    match = _PERIOD.fullmatch(text.strip().upper()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not an ISO-8601 duration such as P1Y, P6M or P30D")
    years, months, weeks, days = (int(group or 0) for group in match.groups())
    period = Period(years=years, months=months, days=days + 7 * weeks, text=text.strip().upper())
    if period.approx_days <= 0 and not allow_zero:
        raise ValueError(f"{text!r} is zero: a retention period must be longer than zero")
    return period
