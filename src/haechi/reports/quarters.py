"""Calendar quarters (``2026Q4``) and their bounds in Korean time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from haechi.audit.review import FIRST_YEAR, LAST_YEAR
from haechi.errors import InvalidInput

__all__ = ["REPORT_TIMEZONE", "Quarter", "parse_quarter"]

#: the policy's country: quarters begin and end at midnight in Seoul
REPORT_TIMEZONE = "Asia/Seoul"
_QUARTER = re.compile(r"([0-9]{4})Q([1-4])")


@dataclass(frozen=True)
class Quarter:
    """One calendar quarter: its name, its first instant and the next quarter's."""

    name: str
    year: int
    number: int
    start: datetime
    end: datetime

    @property
    def months(self) -> list[str]:
        """Its three months as YYYY-MM (the monthly reviews' keys)."""
        first = 3 * (self.number - 1) + 1
        return [f"{self.year:04d}-{month:02d}" for month in range(first, first + 3)]

    @property
    def first_day(self) -> date:
        """Its first calendar day."""
        return self.start.date()

    @property
    def end_day(self) -> date:
        """The first calendar day after it."""
        return self.end.date()

    def month_of(self, moment: datetime) -> str:
        """The month (YYYY-MM, Korean time) an instant falls in."""
        return moment.astimezone(ZoneInfo(REPORT_TIMEZONE)).strftime("%Y-%m")


def parse_quarter(text: str) -> Quarter:
    """The quarter written ``YYYYQn`` (e.g. 2026Q4); InvalidInput naming ``quarter``."""
    match = _QUARTER.fullmatch(text) if len(text) == 6 else None
    if match is None:
        raise InvalidInput("a quarter is written YYYYQn, e.g. 2026Q4", field="quarter")
    year, number = int(match.group(1)), int(match.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(
            f"a quarter lies between {FIRST_YEAR}Q1 and {LAST_YEAR}Q4", field="quarter"
        )
    zone = ZoneInfo(REPORT_TIMEZONE)
    month = 3 * (number - 1) + 1
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (number == 4), month + 3 if number < 4 else 1, 1, tzinfo=zone)
    return Quarter(f"{year:04d}Q{number}", year, number, start, end)
