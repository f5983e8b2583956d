"""The quarterly report's figures, each checked on a crafted installation (both databases)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from haechi import Actor, Engine
from haechi.errors import InvalidInput, NotFound, PermissionDenied
from haechi.storage.tables import audit_events
from tests.conftest import FakeClock
from tests.reports.crafted import craft

OFFICER = Actor(name="boss", kind="staff", purposes=frozenset(), role="privacy_officer")
HANDLER = Actor(name="kim", kind="staff", purposes=frozenset({"service"}), role="handler")


def test_accesses_are_counted_per_actor_and_purpose_in_korean_time(engine: Engine) -> None:
    """It counts reads per actor and purpose inside the quarter's Seoul bounds only."""
    craft(engine)
    figures = engine.quarterly_report("2026Q1", actor=OFFICER)
    assert figures.timezone == "Asia/Seoul"
    assert figures.accesses == [
        {"actor": "kim", "purpose": "marketing", "allowed": 0, "denied": 1},
        {"actor": "kim", "purpose": "service", "allowed": 4, "denied": 0},
        {"actor": "lee", "purpose": "marketing", "allowed": 1, "denied": 0},
        {"actor": "lee", "purpose": "service", "allowed": 2, "denied": 0},
    ]
    assert figures.accesses_by_purpose == {"marketing": 1, "service": 6}


def test_downloads_are_listed_with_bounded_reasons(engine: Engine) -> None:
    """It lists both downloads and exports, each reason cut to 200 characters."""
    craft(engine)
    downloads = engine.quarterly_report("2026Q1", actor=OFFICER).downloads
    assert downloads["total"] == 2
    reasons = [row["reason"] for row in downloads["listed"]]
    assert len(reasons[0]) == 200
    assert reasons[0].startswith("<b>month-end</b>")
    assert reasons[1] == "audit sample"


def test_requests_on_time_late_and_open_overdue(engine: Engine) -> None:
    """It counts two answered on time (the due instant included), one late, one overdue."""
    craft(engine)
    requests = engine.quarterly_report("2026Q1", actor=OFFICER).requests
    assert (requests["answered"], requests["on_time"], requests["late"]) == (3, 2, 1)
    assert requests["on_time_percent"] == 66.7
    assert requests["open_overdue"] == 1
    assert requests["received"] == [
        {"kind": "access", "state": "closed", "count": 3},
        {"kind": "deletion", "state": "in_progress", "count": 1},
    ]


def test_destructions_on_time_and_overdue(engine: Engine) -> None:
    """It counts the quarter's certificates: two on time, one overdue, one unconfirmed."""
    craft(engine)
    destructions = engine.quarterly_report("2026Q1", actor=OFFICER).destructions
    assert destructions == {
        "destroyed": 3,
        "on_time": 2,
        "overdue": 1,
        "on_time_percent": 66.7,
        "unconfirmed": 1,
    }


def test_grant_changes_staff_per_purpose_alerts_and_reviews(engine: Engine) -> None:
    """It counts grant changes, active handlers per purpose, officers, alerts and reviews."""
    craft(engine)
    figures = engine.quarterly_report("2026Q1", actor=OFFICER)
    assert figures.grant_changes["by_change"] == {"grant": 2, "revoke": 1}
    assert figures.staff_per_purpose["officers"] == 1
    handlers = figures.staff_per_purpose["handlers"]
    assert (handlers["service"], handlers["marketing"]) == (2, 1)  # park is disabled
    assert set(handlers) == set(engine.policy.policy.purposes)
    assert figures.alerts["total"] == 3
    assert figures.alerts["by_rule"]["download"] == {"raised": 2, "mailed": 1, "reviewed": 1}
    assert [a["resolution"] for a in figures.alerts["listed"]] == ["reviewed", "reviewed", "open"]
    assert [len(month["reviews"]) for month in figures.reviews] == [1, 0, 0]
    assert figures.verification["ok"] is True


def test_register_training_and_attestations(engine: Engine, clock: FakeClock) -> None:
    """It shows attested measures as confirmed, the rest missing, and the quarter's training."""
    craft(engine)
    engine.add_training("kim", course="Privacy basics", taken_on=date(2026, 2, 1), actor=OFFICER)
    engine.add_training("lee", course="Old course", taken_on=date(2025, 11, 1), actor=OFFICER)
    engine.attest("2026Q1", measure="locked_storage", note="cabinet checked", actor=OFFICER)
    register = engine.safeguards_register("2026Q1", actor=OFFICER)
    assert [t["username"] for t in register["training"]] == ["kim"]
    assert register["confirmed"] == 1
    assert "locked_storage" not in register["missing"]
    assert "restricted_area" in register["missing"]
    assert register["quarter_attested"] is None
    assert register["untrained"] == ["boss"]  # lee's course lies within the year; park left
    assert len(engine.training(actor=OFFICER)) == 2


def test_attestations_and_training_are_audit_events(engine: Engine, clock: FakeClock) -> None:
    """It records each register entry and the quarter's attestation as events, never the note."""
    craft(engine)
    engine.add_training("kim", course="secret course", taken_on=date(2026, 2, 1), actor=OFFICER)
    engine.attest("2026Q1", measure="anti_virus", note="secret note", actor=OFFICER)
    with pytest.raises(InvalidInput) as early:
        engine.attest("2026Q1", note="done", actor=OFFICER)
    assert early.value.faults[0].code == "NOT_ENDED"
    clock.advance(days=40)
    engine.attest("2026Q1", note="quarter reviewed", actor=OFFICER)
    with engine.database.connect() as c:
        rows = c.execute(
            select(audit_events.c.action, audit_events.c.reason, audit_events.c.outcome).where(
                audit_events.c.action.in_(["training_record", "safeguard_attest"])
            )
        ).all()
    actions = [(row.action, row.outcome) for row in rows]
    assert actions == [
        ("training_record", "allowed"),
        ("safeguard_attest", "allowed"),
        ("safeguard_attest", "denied"),
        ("safeguard_attest", "allowed"),
    ]
    assert rows[-1].reason == "2026Q1 quarter"
    assert not any("secret" in (row.reason or "") for row in rows)
    assert engine.safeguards_register("2026Q1", actor=OFFICER)["quarter_attested"]["by"] == "boss"


def test_register_refuses_bad_entries(engine: Engine) -> None:
    """It refuses undeclared measures, future training, unknown staff and non-officers."""
    craft(engine)
    with pytest.raises(InvalidInput) as undeclared:
        engine.attest("2026Q1", measure="moat", note="n", actor=OFFICER)
    assert undeclared.value.faults[0].field == "measure"
    with pytest.raises(InvalidInput) as future:
        engine.attest("2026Q2", measure="anti_virus", note="n", actor=OFFICER)
    assert future.value.faults[0].code == "NOT_BEGUN"
    with pytest.raises(InvalidInput):
        engine.add_training("kim", course="c", taken_on=date(2027, 1, 1), actor=OFFICER)
    with pytest.raises(InvalidInput):
        engine.add_training("kim", course="bad\x00text", taken_on=date(2026, 1, 1), actor=OFFICER)
    with pytest.raises(NotFound):
        engine.add_training("nobody", course="c", taken_on=date(2026, 1, 1), actor=OFFICER)
    with pytest.raises(PermissionDenied):
        engine.attest("2026Q1", measure="anti_virus", note="n", actor=HANDLER)
    with pytest.raises(PermissionDenied):
        engine.quarterly_report("2026Q1", actor=HANDLER)
    with pytest.raises(InvalidInput):
        engine.quarterly_report("2026Q5", actor=OFFICER)
