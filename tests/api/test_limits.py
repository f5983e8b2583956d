"""Input refused before any work: body size, bounded collections and parameters, clean text."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app
from tests.access.staff_helpers import add_and_login
from tests.api.test_api import bearer, body

MIB = 1024 * 1024


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=engine), raise_server_exceptions=False) as test_client:
        yield test_client


class Upload:
    """An ASGI receive channel streaming ``chunks`` chunks of 1 MiB (one buffer, reused)."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.pulled = 0
        self.buffer = b"{" + b" " * (MIB - 1)

    async def __call__(self) -> dict[str, Any]:
        if self.pulled >= self.chunks:
            return {"type": "http.disconnect"}
        self.pulled += 1
        return {
            "type": "http.request",
            "body": self.buffer,
            "more_body": self.pulled < self.chunks,
        }


def post_raw(
    engine: Engine,
    upload: Callable[[], Awaitable[dict[str, Any]]],
    headers: list[tuple[bytes, bytes]],
    *,
    app: FastAPI | None = None,
) -> list[Any]:
    """POST /api/v1/collections straight through the ASGI application; the messages sent."""
    app = app or create_app(engine=engine)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/collections",
        "raw_path": b"/api/v1/collections",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[Any] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # The bound only keeps a server that never gives up from hanging the suite. In a
    # thread of its own: the worker's thread may already run an event loop (the
    # browser tests' Playwright, for the rest of the session), and asyncio.run refuses
    # to start a second one there.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(
            asyncio.run,
            asyncio.wait_for(app(scope, upload, send), 30),  # type: ignore[arg-type]
        ).result()
    return sent


def test_a_declared_50_mb_body_is_refused_unread_before_the_token_check(engine: Engine) -> None:
    """It answers 413 with a JSON error for a 50 MB Content-Length, reading none of the body."""
    upload = Upload(50)
    sent = post_raw(engine, upload, [(b"content-length", str(50 * MIB).encode())])
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "BODY_TOO_LARGE"
    assert upload.pulled == 0


def test_a_streamed_50_mb_body_is_cut_off_at_the_limit(engine: Engine) -> None:
    """It counts a chunked body as it arrives and stops reading once it passes the limit."""
    upload = Upload(50)
    sent = post_raw(engine, upload, [(b"transfer-encoding", b"chunked")])
    starts = [message for message in sent if message["type"] == "http.response.start"]
    assert [start["status"] for start in starts] == [413]
    assert upload.pulled == 2  # 1 MiB is allowed; the second MiB passes the limit


def test_the_limit_is_a_setting_and_the_next_request_is_served(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It refuses a body over server.max_body_bytes (default 1 MiB) and serves the next one."""
    assert engine.settings.server.max_body_bytes == MIB
    auth = bearer(engine, "service")
    padded = body(person)
    padded["source"] = "x" * (MIB + 1)
    refused = client.post("/api/v1/collections", json=padded, headers=auth)
    assert (refused.status_code, refused.json()["code"]) == (413, "BODY_TOO_LARGE")
    assert client.post("/api/v1/collections", json=body(person), headers=auth).status_code == 201


def test_items_per_collection_are_capped_and_the_error_lists_a_few_problems(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It refuses more than 64 items, and an error body lists at most 10 problems and a count."""
    auth = bearer(engine, "service")
    many = client.post(
        "/api/v1/collections",
        json=body({f"k{index}": "v" for index in range(65)}),
        headers=auth,
    )
    assert (many.status_code, many.json()["field"]) == (422, "items")
    bad_values = {f"k{index}": index for index in range(60)}
    wrong = client.post("/api/v1/collections", json=body(bad_values), headers=auth)  # type: ignore[arg-type]
    payload = wrong.json()
    assert wrong.status_code == 422
    assert len(payload["problems"]) == 10
    assert payload["problem_count"] == 60
    assert set(payload["problems"][0]) == {"field", "code", "message"}
    assert payload["problems"][0]["field"] == "items.<undeclared>"
    assert "k0" not in wrong.text


def test_every_problem_of_a_body_is_listed_with_its_field(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It names every wrong field of one body at once, so a form can mark them all."""
    payload = body(person)
    payload["purpose"] = 7
    payload["consent"] = {"granted": "yes", "method": "web-form"}
    response = client.post("/api/v1/collections", json=payload, headers=bearer(engine, "service"))
    fields = {problem["field"] for problem in response.json()["problems"]}
    assert fields == {"purpose", "consent.granted"}
    assert response.json()["problem_count"] == 2


def test_strings_and_item_parameters_are_bounded(
    client: TestClient, engine: Engine, person: dict[str, str]
) -> None:
    """It refuses over-long item values and names, and more than 64 or over-long ``item=``."""
    auth = bearer(engine, "service")
    long_value = client.post(
        "/api/v1/collections", json=body({**person, "title": "x" * 10_001}), headers=auth
    )
    assert (long_value.status_code, long_value.json()["field"]) == (422, "items.title")
    long_name = client.post(
        "/api/v1/collections", json=body({**person, "n" * 64: "x"}), headers=auth
    )
    assert long_name.status_code == 422
    assert "n" * 64 not in long_name.text
    many = client.get(
        "/api/v1/subjects/x/items",
        params={"purpose": "service", "item": ["email"] * 65},
        headers=auth,
    )
    assert (many.status_code, many.json()["field"]) == (422, "item")
    long_item = client.get(
        "/api/v1/subjects/x/items", params={"purpose": "service", "item": "i" * 64}, headers=auth
    )
    assert long_item.status_code == 422
    grants = client.post(
        "/api/v1/staff/kim/grants",
        json={"purposes": ["service"] * 65, "reason": "r"},
        headers=auth,
    )
    assert (grants.status_code, grants.json()["field"]) == (422, "purposes")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (rb'"name": "\ud800"', "items.name"),
        (rb'"\ud800": "x"', "items.<undeclared>"),
        (rb'"name": "a\udfffb"', "items.name"),
    ],
    ids=["value", "key", "low-surrogate"],
)
def test_a_lone_surrogate_is_422_and_the_connection_lives_on(
    client: TestClient, engine: Engine, raw: bytes, field: str
) -> None:
    """It answers 422 naming the field for a lone surrogate, and serves the next request."""
    auth = bearer(engine, "service")
    content = (
        b'{"purpose": "service", "consent": {"granted": true, "method": "web-form"}, '
        b'"items": {' + raw + b"}}"
    )
    response = client.post(
        "/api/v1/collections",
        content=content,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert client.get("/api/v1/audit/heads").status_code == 200


def test_an_event_id_beyond_the_log_is_404(client: TestClient, engine: Engine) -> None:
    """It answers 404 for event ids past the log, even past 32 bits, and 422 past 64 bits."""
    session, _ = add_and_login(engine, "yoon", "auditor")
    auth = {"Authorization": f"Bearer {session}"}
    for event_id in (3_000_000_000, 2**63 - 1):
        response = client.get(f"/api/v1/audit/events/{event_id}/proof", headers=auth)
        assert response.status_code == 404, response.text
    assert client.get(f"/api/v1/audit/events/{2**63}/proof", headers=auth).status_code == 422
    assert client.get("/api/v1/audit/events/0/proof", headers=auth).status_code == 422
