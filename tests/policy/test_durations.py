"""Retention periods are ISO-8601 durations counted on the calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from haechi.policy import parse_period


def test_one_year_from_a_leap_day() -> None:
    """It lands on 28 February the next year."""
    start = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert parse_period("P1Y").after(start) == datetime(2029, 2, 28, 12, tzinfo=UTC)


def test_six_months_from_the_end_of_august() -> None:
    """It clips to the last day of February."""
    start = datetime(2026, 8, 31, tzinfo=UTC)
    assert parse_period("P6M").after(start) == datetime(2027, 2, 28, tzinfo=UTC)


def test_weeks_and_days_add_up() -> None:
    """It counts weeks as seven days."""
    assert parse_period("P1W3D").days == 10


@pytest.mark.parametrize("text", ["", "P", "1Y", "PT1H", "P-1Y", "P0D", "P1.5Y"])
def test_refuses(text: str) -> None:
    """It refuses empty, zero, negative, fractional and time-only durations."""
    with pytest.raises(ValueError, match=r"ISO-8601|zero"):
        parse_period(text)
