"""Requests answered through the engine, on time and late by the FakeClock (both databases)."""

from __future__ import annotations

from haechi import Engine
from haechi.engine import SYSTEM
from tests.conftest import FakeClock
from tests.reports.test_figures import OFFICER
from tests.rights.support import collect
from tests.rights.test_requests_domain import verified


def test_requests_answered_late_are_counted_late(
    engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It counts a request answered the same day on time and one answered 25 days on late."""
    collect(engine, person)
    first = verified(engine, kind="access", email=person["email"])
    second = verified(engine, kind="access", email=person["email"])
    engine.complete_request(first, delivery="post", actor=SYSTEM)
    clock.advance(days=25)  # 2026-03-27: still 2026Q1 in Seoul, long past the deadline
    engine.complete_request(second, delivery="post", actor=SYSTEM)
    requests = engine.quarterly_report("2026Q1", actor=OFFICER).requests
    assert (requests["answered"], requests["on_time"], requests["late"]) == (2, 1, 1)
    assert requests["on_time_percent"] == 50.0
    assert requests["received_total"] == 2
    assert requests["open_overdue"] == 0
