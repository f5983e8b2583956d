"""The HTTP API: the tour of the README, tokens bound to purposes, and clear 4xx errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=engine), raise_server_exceptions=False) as test_client:
        yield test_client


def bearer(engine: Engine, *purposes: str, name: str = "crm") -> dict[str, str]:
    _, secret = engine.create_token(name=name, purposes=list(purposes))
    return {"Authorization": f"Bearer {secret}"}


def body(person: dict[str, object], purpose: str = "service") -> dict[str, object]:
    return {"purpose": purpose, "items": person, "consent": {"granted": True, "method": "web-form"}}


def test_collect_then_use(client: TestClient, engine: Engine, person: dict[str, str]) -> None:
    """It collects (201) and reads back (200) with a token for the purpose."""
    auth = bearer(engine, "service")
    created = client.post("/api/v1/collections", json=body(person), headers=auth)
    assert created.status_code == 201, created.text
    subject_id = created.json()["subject_id"]
    assert set(created.json()) == {"subject_id", "collection_id", "expires_at", "created"}
    read = client.get(f"/api/v1/subjects/{subject_id}/items?purpose=service", headers=auth)
    assert read.status_code == 200
    assert read.json()["items"] == person
    only = client.get(
        f"/api/v1/subjects/{subject_id}/items",
        params={"purpose": "service", "item": ["email"]},
        headers=auth,
    )
    assert only.json()["items"] == {"email": person["email"]}
    state = client.get(f"/api/v1/collections/{created.json()['collection_id']}", headers=auth)
    assert state.json()["state"] == "active"
    event = engine.events(limit=1)[0]
    assert event.actor == "token:crm"
    assert event.source_ip == "testclient"


def test_refusal_is_403_with_its_reason_code(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It answers 403 with the decision's code when the subject never consented."""
    auth = bearer(engine, "service", "marketing")
    subject_id = client.post("/api/v1/collections", json=body(person), headers=auth).json()[
        "subject_id"
    ]
    refused = client.get(f"/api/v1/subjects/{subject_id}/items?purpose=marketing", headers=auth)
    assert refused.status_code == 403
    assert refused.json()["code"] == "NO_CONSENT"
    assert refused.json()["detail"]["audit_event_id"]


def test_tokens_are_limited_to_their_purposes(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It refuses a token both collection and reading for purposes it does not hold."""
    service = bearer(engine, "service", name="crm")
    complaints = bearer(engine, "complaints", name="helpdesk")
    denied = client.post("/api/v1/collections", json=body(person, "marketing"), headers=service)
    assert (denied.status_code, denied.json()["code"]) == (403, "NO_GRANT")
    subject_id = client.post("/api/v1/collections", json=body(person), headers=service).json()[
        "subject_id"
    ]
    read = client.get(f"/api/v1/subjects/{subject_id}/items?purpose=service", headers=complaints)
    assert (read.status_code, read.json()["code"]) == (403, "NO_GRANT")


def test_missing_and_revoked_tokens_are_401(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It refuses calls without a token, and a revoked token on its very next call."""
    assert client.post("/api/v1/collections", json=body(person)).status_code == 401
    auth = bearer(engine, "service")
    assert client.post("/api/v1/collections", json=body(person), headers=auth).status_code == 201
    engine.revoke_token("crm")
    again = client.post("/api/v1/collections", json=body(person), headers=auth)
    assert (again.status_code, again.json()["code"]) == (401, "INVALID_TOKEN")


def test_malformed_json_is_400(client: TestClient, engine: Engine) -> None:
    """It answers 400 MALFORMED_JSON for a body that is not JSON."""
    response = client.post(
        "/api/v1/collections",
        content=b'{"purpose": "service", "items": {',
        headers={**bearer(engine, "service"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "MALFORMED_JSON"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["items"].update(email=12345), "items.email"),
        (lambda b: b["consent"].update(granted="yes"), "consent.granted"),
        (lambda b: b.pop("consent"), "consent"),
        (lambda b: b.update(items=["name"]), "items"),
        (lambda b: b.update(purpose=7), "purpose"),
        (lambda b: b.update(extra=True), "<undeclared>"),
    ],
    ids=["item-int", "granted-str", "no-consent", "items-list", "purpose-int", "extra-key"],
)
def test_wrong_types_are_422_naming_the_field(
    client: TestClient, engine: Engine, person: dict[str, str], change: object, field: str
) -> None:
    """It answers 422 naming the field of a wrongly typed or missing value.

    A key the schema does not declare is the client's text: it is named ``<undeclared>``.
    """
    payload = body(dict(person))
    change(payload)  # type: ignore[operator]
    response = client.post("/api/v1/collections", json=payload, headers=bearer(engine, "service"))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert response.json()["code"] == "INVALID_INPUT"


@pytest.mark.parametrize(
    ("item", "value", "code", "field"),
    [
        ("email", "minji-at-example", "INVALID_INPUT", "items.email"),
        ("contact", "555-12", "INVALID_INPUT", "items.contact"),
        ("birthday", "1990-01-01", "ITEM_NOT_DECLARED", "items"),
    ],
)
def test_policy_refusals_are_422_and_never_echo_the_value(
    client: TestClient,
    engine: Engine,
    person: dict[str, str],
    item: str,
    value: str,
    code: str,
    field: str,
) -> None:
    """It names the field and the problem without repeating the submitted value.

    An item name the policy does not declare is the client's text: it is not echoed.
    """
    person[item] = value
    response = client.post(
        "/api/v1/collections", json=body(person), headers=bearer(engine, "service")
    )
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert response.json()["field"] == field
    assert response.json()["problems"][0]["field"] == field
    assert value not in response.text
    if code == "ITEM_NOT_DECLARED":
        assert item not in response.text


def test_validation_errors_never_echo_values(
    client: TestClient, engine: Engine, person: dict[str, object]
) -> None:
    """It leaves the submitted values out of validation error bodies."""
    person["email"] = ["minji.kim@example.kr"]
    response = client.post(
        "/api/v1/collections", json=body(person), headers=bearer(engine, "service")
    )
    assert response.status_code == 422
    assert "minji.kim" not in response.text
    assert "김민지" not in response.text


def test_unknown_subject_and_collection_are_404(client: TestClient, engine: Engine) -> None:
    """It answers 404 with a JSON body for unknown ids and routes."""
    auth = bearer(engine, "service")
    missing = client.get("/api/v1/subjects/nope/items?purpose=service", headers=auth)
    assert (missing.status_code, missing.json()["code"]) == (404, "SUBJECT_NOT_FOUND")
    assert client.get("/api/v1/collections/nope", headers=auth).status_code == 404
    assert client.get("/api/v1/nothing-here").json()["code"] == "NOT_FOUND"


def test_lookup_keeps_the_value_out_of_the_url(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It looks subjects up by a POSTed email or phone."""
    auth = bearer(engine, "service")
    subject_id = client.post("/api/v1/collections", json=body(person), headers=auth).json()[
        "subject_id"
    ]
    found = client.post(
        "/api/v1/subjects/lookup", json={"kind": "phone", "value": "01023456789"}, headers=auth
    )
    assert found.json() == {"subject_id": subject_id}


def test_withdrawal_stops_use(client: TestClient, engine: Engine, person: dict[str, str]) -> None:
    """It records a withdrawal; the next read is refused NO_CONSENT."""
    auth = bearer(engine, "service")
    created = client.post("/api/v1/collections", json=body(person), headers=auth).json()
    withdrawn = client.post(
        f"/api/v1/collections/{created['collection_id']}/withdraw", json={}, headers=auth
    )
    assert withdrawn.status_code == 204
    read = client.get(
        f"/api/v1/subjects/{created['subject_id']}/items?purpose=service", headers=auth
    )
    assert read.json()["code"] == "NO_CONSENT"


def test_openapi_is_published(client: TestClient) -> None:
    """It serves the OpenAPI document and the docs page."""
    schema = client.get("/openapi.json").json()
    assert "/api/v1/collections" in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_values_no_column_can_hold_are_refused_before_any_work(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It answers 4xx, never 500, for over-long ids and purposes and for NUL characters."""
    auth = bearer(engine, "service")
    long_purpose = client.post(
        "/api/v1/collections", json=body(person, purpose="x" * 100), headers=auth
    )
    assert (long_purpose.status_code, long_purpose.json()["field"]) == (422, "purpose")
    nul_value = client.post(
        "/api/v1/collections", json=body({**person, "title": "a\x00b"}), headers=auth
    )
    assert nul_value.status_code == 422
    assert "a\x00b" not in nul_value.text
    assert client.get("/api/v1/collections/a%00b", headers=auth).status_code == 400
    reason = client.get(
        "/api/v1/subjects/x/items", params={"purpose": "service", "reason": "a\x00"}, headers=auth
    )
    assert reason.status_code == 400
    assert client.get("/api/v1/collections/" + "a" * 80, headers=auth).status_code == 422
    huge = client.get("/api/v1/audit/events/99999999999999999999999/proof", headers=auth)
    assert huge.status_code == 422
