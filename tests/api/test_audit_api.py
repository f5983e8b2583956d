"""The access log over HTTP: public tree heads, proofs, and alerts for those allowed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from haechi import AccessDenied, Actor, ConsentEvidence, Engine
from haechi.api import create_app
from haechi.engine import SYSTEM
from tests.access.staff_helpers import add_and_login


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(
        create_app(engine=engine), raise_server_exceptions=False, client=("127.0.0.1", 5000)
    ) as test_client:
        yield test_client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def activity(engine: Engine, person: dict[str, str]) -> None:
    result = engine.collect(
        purpose="service", items=person, consent=ConsentEvidence(True, "form"), actor=SYSTEM
    )
    crm = Actor(name="crm", kind="token", purposes=frozenset({"service"}))
    for _ in range(10):
        with pytest.raises(AccessDenied):
            engine.use(actor=crm, subject_id=result.subject_id, purpose="marketing")
    engine.seal_all()


def test_tree_heads_are_public(client: TestClient, engine: Engine, person: dict[str, str]) -> None:
    """It publishes signed heads to anyone, for witnesses to fetch."""
    activity(engine, person)
    heads = client.get("/api/v1/audit/heads").json()
    assert heads[-1]["size"] == 11
    assert client.get("/api/v1/audit/heads", params={"since": 11}).json() == []


def test_proofs_are_for_log_readers(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It serves inclusion proofs to the officer and auditors, not to tokens or handlers."""
    activity(engine, person)
    assert client.get("/api/v1/audit/events/1/proof").status_code == 401
    _, token = engine.create_token(name="svc", purposes=["service"])
    refused = client.get("/api/v1/audit/events/1/proof", headers=bearer(token))
    assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_REQUIRED")
    handler, _ = add_and_login(engine, "han", "handler", "service")
    refused = client.get("/api/v1/audit/events/1/proof", headers=bearer(handler))
    assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_REQUIRED")
    auditor, _ = add_and_login(engine, "yoon", "auditor")
    proof = client.get("/api/v1/audit/events/1/proof", headers=bearer(auditor))
    assert proof.json()["leaf_index"] == 0


def test_alerts_and_review_for_auditors_only(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It shows alerts and the monthly review to auditors, not to handlers or services."""
    activity(engine, person)
    engine.run_monitors()
    auditor, _ = add_and_login(engine, "yoon", "auditor")
    handler, _ = add_and_login(engine, "han", "handler", "service")
    alerts = client.get("/api/v1/alerts", headers=bearer(auditor))
    assert alerts.status_code == 200
    assert [alert["rule"] for alert in alerts.json()] == ["denied_burst"]
    refused = client.get("/api/v1/alerts", headers=bearer(handler))
    assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_REQUIRED")
    review = client.get("/api/v1/audit/review/2026-03", headers=bearer(auditor))
    assert review.json()["actors"][0]["denied"] == 10
    bad = client.get("/api/v1/audit/review/March", headers=bearer(auditor))
    assert (bad.status_code, bad.json()["field"]) == (422, "month")


def test_downloads_need_a_reason(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It refuses a download without a reason (422 naming it) and logs one with a reason."""
    _, token = engine.create_token(name="svc", purposes=["service"])
    subject = engine.collect(
        purpose="service", items=person, consent=ConsentEvidence(True, "form"), actor=SYSTEM
    ).subject_id
    url = f"/api/v1/subjects/{subject}/items"
    refused = client.get(
        url, params={"purpose": "service", "download": True}, headers=bearer(token)
    )
    assert (refused.status_code, refused.json()["field"]) == (422, "reason")
    allowed = client.get(
        url,
        params={"purpose": "service", "download": True, "reason": "ticket 7"},
        headers=bearer(token),
    )
    assert allowed.status_code == 200
    assert engine.events(limit=1)[0].action == "download"
