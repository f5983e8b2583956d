"""The quarter's incidents in the quarterly report: counts, notices on time, the page."""

from __future__ import annotations

from haechi import Engine
from haechi.web.report_document import render_report
from tests.conftest import FakeClock
from tests.incidents.support import OFFICER, craft, open_over


def test_the_quarterly_report_lists_the_quarters_incidents(
    engine: Engine, clock: FakeClock
) -> None:
    """An incident opened in 2026Q1 is counted, with its people and its notices pending."""
    crafted = craft(engine, clock)
    incident = open_over(engine, crafted, clock, outside_access=True)
    figures = engine.quarterly_report("2026Q1", actor=OFFICER)
    found = figures.incidents
    assert (found["opened"], found["people"], found["to_report"]) == (1, 2, 1)
    assert found["notified_on_time"] == 0
    [row] = found["listed"]
    assert row["id"] == incident.id
    assert (row["notices_sent"], row["notices_total"]) == (0, 2)
    assert engine.quarterly_report("2026Q2", actor=OFFICER).incidents["opened"] == 0
    page = render_report(engine.policy.policy, figures, lang="en")
    assert "Personal data breaches" in page
    assert "Due, not prepared" in page
    assert "개인정보 유출 사고" in render_report(engine.policy.policy, figures, lang="ko")
