"""The incidents pages of the console: the register, an incident, and the officer's steps."""

from __future__ import annotations

from fastapi.testclient import TestClient

from haechi import Engine
from haechi.config import MailSettings
from haechi.mail import SmtpNotifier
from tests.conftest import FakeClock
from tests.console.support import console, csrf_of, login_as
from tests.incidents.support import OFFICER, Crafted, craft, open_over
from tests.rights.support import Inbox, inbox

__all__ = ["console", "inbox"]


def _form(token: str, clock: FakeClock, crafted: Crafted, *, title: str) -> dict[str, str]:
    """The open-an-incident form over the crafted window, aware now, naming kim."""
    return {
        "csrf_token": token,
        "title": title,
        "aware_at": clock().isoformat(),
        "from": crafted.start.isoformat(),
        "to": crafted.end.isoformat(),
        "actors": "kim",
    }


def test_the_officer_opens_contains_notifies_and_closes_from_the_pages(
    engine: Engine, console: TestClient, clock: FakeClock, inbox: tuple[Inbox, int]
) -> None:
    """It opens an incident by form, records a step, sends notices without JS, then closes."""
    received, port = inbox
    console.app.state.notifier = SmtpNotifier(  # type: ignore[attr-defined]
        MailSettings(smtp_host="127.0.0.1", smtp_port=port)
    )
    crafted = craft(engine, clock)
    login_as(console, engine, "officer", "privacy_officer")
    listed = console.get("/console/incidents?lang=en")
    assert listed.status_code == 200
    assert 'href="/console/incidents" aria-current="page"' in listed.text
    token = csrf_of(listed.text)
    opened = console.post(
        "/console/incidents", data=_form(token, clock, crafted, title="stolen laptop")
    )
    assert opened.status_code == 303
    where = opened.headers["location"]
    shown = console.get(where + "?lang=en")
    assert 'id="incident-state">open<' in shown.text
    assert "Left: 2." in shown.text
    assert "stolen laptop" in console.get("/console/incidents").text
    step = console.post(
        where + "/containment", data={"csrf_token": token, "kind": "keys_rotated", "note": "r"}
    )
    assert step.status_code == 303
    sent = console.post(where + "/notify", data={"csrf_token": token})
    assert sent.status_code == 303
    assert len(received.messages) == 2
    assert "Sent: 2." in console.get(where + "?lang=en").text
    again = console.post(
        where + "/notify", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 200
    assert 'id="notices"' in again.text
    report = console.post(where + "/report", data={"csrf_token": token, "lang": "en"})
    assert report.status_code == 200
    assert console.get(where + "/proofs").status_code == 200
    closed = console.post(where + "/close", data={"csrf_token": token})
    assert closed.status_code == 303
    assert 'id="incident-state">closed<' in console.get(where).text


def test_an_auditor_reads_the_register_without_the_forms(
    engine: Engine, console: TestClient, clock: FakeClock
) -> None:
    """It shows an auditor the incident and its proofs, and no officer form."""
    incident = open_over(engine, craft(engine, clock), clock)
    login_as(console, engine, "audrey", "auditor")
    shown = console.get(f"/console/incidents/{incident.id}")
    assert shown.status_code == 200
    assert "/close" not in shown.text
    assert console.get(f"/console/incidents/{incident.id}/proofs").status_code == 200
    token = csrf_of(shown.text)
    refused = console.post(f"/console/incidents/{incident.id}/close", data={"csrf_token": token})
    assert refused.status_code == 403


def test_a_form_without_its_csrf_token_is_refused(
    engine: Engine, console: TestClient, clock: FakeClock
) -> None:
    """It refuses to close an incident when the CSRF token is missing or wrong."""
    incident = open_over(engine, craft(engine, clock), clock)
    login_as(console, engine, "officer", "privacy_officer")
    for data in ({}, {"csrf_token": "forged"}):
        response = console.post(f"/console/incidents/{incident.id}/close", data=data)
        assert 400 <= response.status_code < 500
    assert engine.incident(incident.id, actor=OFFICER)["state"] == "open"


def test_a_bad_field_names_the_field_and_stores_nothing(
    engine: Engine, console: TestClient, clock: FakeClock
) -> None:
    """Each bad field gives 4xx naming it, never 500, and no incident is opened."""
    crafted = craft(engine, clock)
    login_as(console, engine, "officer", "privacy_officer")
    token = csrf_of(console.get("/console/incidents").text)
    good = _form(token, clock, crafted, title="t")
    for field, value, named in (
        ("title", "x" * 1000, "title"),
        ("title", "bad\u202etitle", "title"),
        ("aware_at", "yesterday", "aware_at"),
        ("from", "2026-01-01T00:00", "from"),
        ("to", crafted.start.replace(year=crafted.start.year - 1).isoformat(), "to"),
        ("networks", "not-a-network", "networks[0]"),
    ):
        response = console.post("/console/incidents", data={**good, field: value})
        assert 400 <= response.status_code < 500, field
        assert f"<strong>{named}</strong>" in response.text, field
    assert engine.incidents(actor=OFFICER) == []
    assert console.get("/console/incidents/not-an-id").status_code in (404, 422)
    bad_kind = console.post(
        "/console/incidents/00000000-0000-0000-0000-000000000000/containment",
        data={"csrf_token": token, "kind": "nonsense"},
    )
    assert bad_kind.status_code == 422
    assert "kind" in bad_kind.text
