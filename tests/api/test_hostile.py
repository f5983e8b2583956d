"""A hostile client: out-of-range values, undecodable bodies, and client text never echoed."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app
from haechi.api.logs import ExceptionTypeOnly
from haechi.config import ServerSettings
from tests.api.test_api import bearer, body
from tests.api.test_limits import post_raw
from tests.api.test_serve import data_dir, open_engine, serving
from tests.api.test_staff_api import local, officer_session

__all__ = ["data_dir", "local"]

# A string no server text contains: any answer holding it repeats the client's text.
MARKER = "ZQXMARK7"


@pytest.mark.parametrize("month", ["0000-01", "0001-01", "9999-12"])
def test_a_review_month_out_of_range_is_422(engine: Engine, local: TestClient, month: str) -> None:
    """It refuses a month whose bounds no clock holds with 422 naming the month, never 500."""
    officer = officer_session(engine, local)
    answer = local.get(f"/api/v1/audit/review/{month}", headers=officer)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "month"


def test_an_undecodable_body_has_the_error_shape(engine: Engine, local: TestClient) -> None:
    """It answers a body that is not UTF-8 with 400 MALFORMED_JSON naming the body."""
    answer = local.post(
        "/api/v1/subjects/lookup",
        content=b'{"kind": "email", "value": "\xff' + MARKER.encode() + b'"}',
        headers={**bearer(engine, "service"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert (answer.json()["code"], answer.json()["field"]) == ("MALFORMED_JSON", "body")
    assert MARKER not in answer.text


def test_an_undeclared_purpose_is_not_repeated_when_refused(
    engine: Engine, local: TestClient, person: dict[str, str]
) -> None:
    """It refuses collection for an undeclared purpose without repeating the purpose."""
    answer = local.post(
        "/api/v1/collections", json=body(person, MARKER), headers=bearer(engine, "service")
    )
    assert (answer.status_code, answer.json()["code"]) == (403, "NO_GRANT")
    assert MARKER not in answer.text


def test_an_unknown_staff_name_is_not_repeated(engine: Engine, local: TestClient) -> None:
    """It answers 404 for an unknown account on every staff endpoint without its name."""
    officer = officer_session(engine, local)
    calls = [
        ("POST", "grants", {"purposes": ["service"], "reason": "r"}),
        ("POST", "revoke", {"purposes": ["service"], "reason": "r"}),
        ("PUT", "role", {"role": "auditor", "reason": "r"}),
        ("POST", "unlock", {"reason": "r"}),
        ("POST", "password-reset", {}),
    ]
    for method, action, payload in calls:
        answer = local.request(
            method, f"/api/v1/staff/{MARKER}/{action}", json=payload, headers=officer
        )
        assert (answer.status_code, answer.json()["field"]) == (404, "username"), action
        assert MARKER not in answer.text, action


def test_a_staff_change_refused_by_the_accounts_is_an_event(
    engine: Engine, local: TestClient
) -> None:
    """It records a denied event for a change on an unknown account, without the name."""
    officer = officer_session(engine, local)
    answer = local.post(
        f"/api/v1/staff/{MARKER}/grants",
        json={"purposes": ["service"], "reason": "r"},
        headers=officer,
    )
    assert answer.status_code == 404
    event = engine.events(limit=1)[0]
    assert (event.action, event.outcome, event.code) == ("staff_grant", "denied", "NOT_FOUND")
    assert (event.actor, event.source_ip) == ("park", "127.0.0.1")
    assert MARKER not in repr(event)


def test_a_revoked_purpose_never_held_is_counted(engine: Engine, local: TestClient) -> None:
    """It refuses to revoke purposes not held by counting them, never repeating them."""
    officer = officer_session(engine, local)
    created = local.post(
        "/api/v1/staff",
        json={"username": "kim", "role": "handler", "purposes": ["service"]},
        headers=officer,
    )
    assert created.status_code == 201, created.text
    answer = local.post(
        "/api/v1/staff/kim/revoke", json={"purposes": [MARKER], "reason": "r"}, headers=officer
    )
    assert (answer.status_code, answer.json()["field"]) == (404, "purposes")
    assert MARKER not in answer.text


def test_the_server_log_holds_no_client_text(data_dir: Path) -> None:
    """It logs each request's method, route words and ids only: no query, no other text."""
    engine = open_engine(data_dir)
    try:
        _, secret = engine.create_token(name="logged", purposes=["service"])
    finally:
        engine.close()
    auth = {"Authorization": f"Bearer {secret}"}
    with serving(data_dir) as (url, output), httpx.Client(base_url=url, headers=auth) as client:
        client.get(
            f"/api/v1/subjects/{MARKER}/items",
            params={"purpose": MARKER, "item": MARKER, "reason": MARKER, "download": "true"},
        )
        client.get(f"/api/v1/{MARKER}/..%2f{MARKER}")
        client.request(MARKER, "/api/v1/health")
        client.get("/api/v1/audit/review/2026-11")
        # Numbers where an id goes: a phone, a resident number, a card; an event's number.
        client.get("/api/v1/subjects/01023456789/items", params={"purpose": "service"})
        client.get("/api/v1/collections/9001011234568")
        client.get("/api/v1/4111111111111111")
        client.get("/api/v1/audit/events/17/proof")
    log = "".join(output)
    assert MARKER not in log
    assert '"GET /api/v1/subjects/<redacted>/items?<redacted> HTTP/1.1" 404' in log
    assert "/api/v1/audit/review/2026-11" in log
    for number in ("01023456789", "9001011234568", "4111111111111111"):
        assert number not in log
    assert '"GET /api/v1/collections/<redacted> HTTP/1.1"' in log
    assert "/api/v1/audit/events/17/proof" in log


def test_a_reason_with_a_phone_or_an_email_is_refused(
    engine: Engine, local: TestClient, person: dict[str, str]
) -> None:
    """It answers 422 on ``reason`` to a download reason holding a person's phone or email."""
    auth = bearer(engine, "service")
    subject_id = local.post("/api/v1/collections", json=body(person), headers=auth).json()[
        "subject_id"
    ]
    for reason in ("asked by 010-2345-6789", "asked by minji.kim@example.kr"):
        read = local.get(
            f"/api/v1/subjects/{subject_id}/items",
            params={"purpose": "service", "download": "true", "reason": reason},
            headers=auth,
        )
        assert (read.status_code, read.json()["field"]) == (422, "reason")
        assert reason.split()[-1] not in read.text


def test_a_refused_collection_does_not_name_its_purpose(
    engine: Engine, local: TestClient, person: dict[str, str]
) -> None:
    """It refuses a token another purpose's collection without naming that purpose."""
    marketing = local.post(
        "/api/v1/collections", json=body(person, "marketing"), headers=bearer(engine, "marketing")
    )
    collection_id = marketing.json()["collection_id"]
    service = bearer(engine, "service", name="service")
    refused = local.get(f"/api/v1/collections/{collection_id}", headers=service)
    assert (refused.status_code, refused.json()["code"]) == (403, "NO_GRANT")
    assert "marketing" not in refused.text


def test_a_slash_too_many_is_not_found_rather_than_redirected(
    engine: Engine, local: TestClient
) -> None:
    """It answers 404 to a path with a trailing slash: no redirect built from the Host."""
    answer = local.get(
        f"/api/v1/subjects/{uuid.uuid4()}/items/",
        params={"purpose": "service", "reason": MARKER},
        headers={**bearer(engine, "service"), "Host": "evil.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert MARKER not in answer.text


def test_an_unexpected_error_is_logged_by_its_type_only() -> None:
    """It logs an exception's type and where Haechi raised it, never its message."""
    try:
        raise ValueError(MARKER)
    except ValueError as error:
        record = logging.LogRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application\n", (), None
        )
        record.exc_info = (type(error), error, error.__traceback__)
    assert ExceptionTypeOnly().filter(record)
    line = logging.Formatter().format(record)
    assert "ValueError" in line
    assert "test_hostile.py" in line
    assert MARKER not in line
    assert "Traceback" not in line


@pytest.mark.parametrize("trick", ["\x1b[2J", "\r\nofficer: granted", "\u202e", "\u200b", "\x7f"])
def test_text_kept_in_the_clear_holds_no_control_character(
    engine: Engine, local: TestClient, person: dict[str, str], trick: str
) -> None:
    """It refuses escape sequences, line breaks and bidi or zero-width marks in reasons."""
    auth = bearer(engine, "service")
    created = local.post("/api/v1/collections", json=body(person), headers=auth)
    subject_id = created.json()["subject_id"]
    read = local.get(
        f"/api/v1/subjects/{subject_id}/items",
        params={"purpose": "service", "download": "true", "reason": f"export{trick}"},
        headers=auth,
    )
    assert (read.status_code, read.json()["field"]) == (422, "reason")
    consent = {"granted": True, "method": f"web{trick}"}
    collected = local.post(
        "/api/v1/collections", json={**body(person), "consent": consent}, headers=auth
    )
    assert (collected.status_code, collected.json()["field"]) == (422, "consent.method")
    officer = officer_session(engine, local)
    staff = local.post(
        "/api/v1/staff",
        json={"username": "kim", "role": "auditor", "reason": f"hired{trick}"},
        headers=officer,
    )
    assert (staff.status_code, staff.json()["field"]) == (422, "reason")


def test_a_stalled_body_is_refused_with_408(engine: Engine) -> None:
    """It answers 408 when the next part of a body does not come in time, and reads no more."""
    pulled = 0

    async def trickle() -> dict[str, object]:
        nonlocal pulled
        pulled += 1
        if pulled == 1:
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.Event().wait()  # the client never sends the rest
        raise AssertionError("unreachable")

    server = ServerSettings(body_timeout_seconds=0.05)
    app = create_app(engine.settings.model_copy(update={"server": server}), engine=engine)
    sent = post_raw(engine, trickle, [], app=app)
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["code"] == "BODY_TIMEOUT"
    assert pulled == 2
