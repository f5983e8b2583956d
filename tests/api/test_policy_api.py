"""The policy over HTTP: in force and upcoming (public), versions, fresh consent by token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from tests.conftest import FakeClock
from tests.policy.versions_helpers import consent, publish, variant


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=engine), raise_server_exceptions=False) as test_client:
        yield test_client


def bearer(engine: Engine, *purposes: str) -> dict[str, str]:
    _, secret = engine.create_token(name="-".join(purposes), purposes=list(purposes))
    return {"Authorization": f"Bearer {secret}"}


def test_the_policy_in_force_and_upcoming_need_no_token(engine: Engine, client: TestClient) -> None:
    """It answers without a token: nothing before publication, then in force and upcoming."""
    assert client.get("/api/v1/policy").json() == {"in_force": None, "upcoming": []}
    first = publish(engine, parse_policy(demo_policy_text()))
    second = publish(engine, variant("v2", retention="P3M"), days=7)
    body = client.get("/api/v1/policy").json()
    assert body["in_force"]["n"] == 1
    assert body["in_force"]["content_hash"] == first.content_hash
    assert [v["n"] for v in body["upcoming"]] == [2]
    versions = client.get("/api/v1/policy/versions").json()
    assert [(v["n"], v["id"]) for v in versions] == [(1, first.id), (2, second.id)]


def test_fresh_consent_needs_a_token_for_the_purpose(
    engine: Engine, client: TestClient, clock: FakeClock, person: dict[str, str]
) -> None:
    """It records fresh consent with the request's evidence for a token serving the purpose."""
    publish(engine, parse_policy(demo_policy_text()))
    result = engine.collect(purpose="marketing", items=person, consent=consent(), actor=SYSTEM)
    version = publish(engine, variant("v2", add_item=True), days=7)
    clock.advance(days=7)
    path = f"/api/v1/collections/{result.collection_id}/consent"
    body = {"granted": True, "method": "web-form", "text_hash": "a" * 64}
    assert client.post(path, json=body).status_code == 401
    assert client.post(path, json=body, headers=bearer(engine, "service")).status_code == 403
    auth = bearer(engine, "marketing")
    renewed = client.post(path, json=body, headers=auth)
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["policy_version"] == version.id
    read = client.get(
        f"/api/v1/subjects/{result.subject_id}/items",
        params={"purpose": "marketing", "item": ["interests", "name"]},
        headers=auth,
    )
    assert read.status_code == 200
    assert read.json()["items"] == {"name": person["name"]}
    event = engine.events(limit=2)[1]
    assert (event.action, event.source_ip) == ("renew_consent", "testclient")


def test_fresh_consent_is_refused_when_not_granted_or_for_an_unknown_collection(
    engine: Engine, client: TestClient
) -> None:
    """It refuses granted=false (422) and an unknown id (404)."""
    auth = bearer(engine, "marketing")
    body = {"granted": False, "method": "web-form"}
    unknown = client.post("/api/v1/collections/nope/consent", json=body, headers=auth)
    assert unknown.status_code in (404, 422)
    missing = client.post(
        "/api/v1/collections/nope/consent", json={**body, "granted": True}, headers=auth
    )
    assert missing.status_code == 404
