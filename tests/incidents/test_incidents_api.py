"""The incidents API: officer and auditors, bounded bodies, the fields at fault listed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from haechi import Engine
from tests.conftest import FakeClock
from tests.incidents.support import Crafted, craft
from tests.rights.support import Inbox, client, inbox, staff

__all__ = ["client", "inbox"]


def _body(crafted: Crafted, clock: FakeClock, **change: object) -> dict[str, object]:
    body: dict[str, object] = {
        "title": "kim's laptop",
        "aware_at": clock().isoformat(),
        "from": crafted.start.isoformat(),
        "to": crafted.end.isoformat(),
        "actors": ["kim"],
    }
    body.update(change)
    return body


def test_the_officer_runs_an_incident_through_the_api(
    engine: Engine, clock: FakeClock, client: TestClient, inbox: tuple[Inbox, int]
) -> None:
    """Open, read, contain, notify, report and close; an auditor reads, a handler cannot."""
    crafted = craft(engine, clock)
    officer = staff(engine, "boss", "privacy_officer")
    auditor = staff(engine, "audit", "auditor")
    handler = staff(engine, "hand", "handler", "service")
    made = client.post("/api/v1/incidents", json=_body(crafted, clock), headers=officer)
    assert made.status_code == 201, made.text
    incident = made.json()
    assert incident["affected_count"] == 2
    assert (
        client.post("/api/v1/incidents", json=_body(crafted, clock), headers=handler).status_code
        == 403
    )
    assert client.get("/api/v1/incidents", headers=auditor).json()[0]["id"] == incident["id"]
    path = f"/api/v1/incidents/{incident['id']}"
    assert client.get(path, headers=auditor).json()["title"] == "kim's laptop"
    assert client.get(f"{path}/subjects", headers=auditor).status_code == 403
    assert len(client.get(f"{path}/subjects", headers=officer).json()) == 2
    step = client.post(
        f"{path}/containment", json={"kind": "keys_rotated", "note": "rotated"}, headers=officer
    )
    assert step.status_code == 200, step.text
    sent = client.post(f"{path}/notify", headers=officer).json()
    assert sent == {"sent": 2, "unreachable": 0, "left": 0}
    assert len(inbox[0].messages) == 2
    page = client.post(f"{path}/report?format=html&lang=en", headers=officer)
    assert page.status_code == 200
    assert "Report of a personal data breach" in page.text
    fields = client.post(f"{path}/report", headers=officer).json()
    assert fields["notices"]["sent"] == 2
    assert client.post(f"{path}/close", headers=officer).json()["state"] == "closed"
    assert client.post(f"{path}/close", headers=officer).status_code == 409


def test_bad_bodies_name_every_field(engine: Engine, clock: FakeClock, client: TestClient) -> None:
    """Oversized or malformed fields are refused with a 4xx naming each; nothing is stored."""
    crafted = craft(engine, clock)
    officer = staff(engine, "boss", "privacy_officer")
    too_much = _body(
        crafted,
        clock,
        title="x" * 201,
        actors=["a"] * 51,
        networks=["10.0.0.0/2"],
        aware_at="2026-03-02T09:00:00",
    )
    refused = client.post("/api/v1/incidents", json=too_much, headers=officer)
    assert refused.status_code == 422
    text = refused.text
    for field in ("title", "actors", "aware_at"):
        assert field in text
    wide = client.post(
        "/api/v1/incidents", json=_body(crafted, clock, networks=["10.0.0.0/2"]), headers=officer
    )
    assert wide.status_code == 422
    assert "networks[0]" in wide.text
    reversed_window = _body(
        crafted, clock, **{"from": crafted.end.isoformat(), "to": crafted.start.isoformat()}
    )
    assert (
        client.post("/api/v1/incidents", json=reversed_window, headers=officer).status_code == 422
    )
    assert client.get("/api/v1/incidents", headers=officer).json() == []
    assert client.get("/api/v1/incidents/" + "x" * 37, headers=officer).status_code == 422
    assert client.get("/api/v1/incidents/nope", headers=officer).status_code == 404
