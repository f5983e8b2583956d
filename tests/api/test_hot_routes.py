"""The hot routes (haechi.api.hot) answer exactly as FastAPI's routes do.

One scenario of reads and collections, valid and hostile, runs twice on one engine:
once through FastAPI alone (``hot_routes=False``), once with the hot routes in front.
Each run has its own people and tokens; ids, times and the run's own values are
replaced by placeholders, and then the two runs' answers (status, body, the headers a
client relies on) and the audit events they caused must be the same. The hot run must
also have served the plain requests itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

import haechi.api.hot as hot
from haechi import Engine
from haechi.api import create_app
from tests.api.test_limits import post_raw
from tests.conftest import PERSON

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
UNKNOWN = "00000000-0000-4000-8000-000000000000"
_EVENT_ID = re.compile(r'"audit_event_id": ?\d+')


def _normal(text: str, run: str) -> str:
    text = text.replace(run, "<run>")
    text = _UUID.sub("<id>", text)
    text = _TIME.sub("<time>", text)
    return _EVENT_ID.sub('"audit_event_id":<n>', text)


def _person(run: str) -> dict[str, str]:
    return {**PERSON, "email": f"{run}@example.kr"}


def _collect_body(run: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "purpose": "service",
        "items": _person(run),
        "consent": {"granted": True, "method": "web-form"},
    }
    body.update(changes)
    return body


Step = Callable[[TestClient, dict[str, str]], Any]


def _steps(run: str, tokens: dict[str, str]) -> list[tuple[str, Step]]:
    """Named requests; ``found`` carries the run's subject id from step to step."""
    service = {"Authorization": f"Bearer {tokens['service']}"}
    other = {"Authorization": f"Bearer {tokens['marketing']}"}
    lower = {"Authorization": f"bearer {tokens['service']}"}
    bad = {"Authorization": "Bearer hct_not-a-token"}
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    empty = {"Authorization": "Bearer "}
    spaced = {"Authorization": f"Bearer  {tokens['service']}"}  # FastAPI strips the secret
    collections = "/api/v1/collections"
    unknown = UNKNOWN

    def collect(client: TestClient, found: dict[str, str]) -> Any:
        response = client.post(collections, json=_collect_body(run), headers=service)
        found["subject"] = response.json()["subject_id"]
        return response

    def post(headers: dict[str, str] | None = service, **changes: Any) -> Step:
        body = _collect_body(run, **changes)
        for name in [name for name, value in changes.items() if value is None]:
            del body[name]
        return lambda client, found: client.post(collections, json=body, headers=headers)

    def raw(content: bytes, content_type: str = "application/json") -> Step:
        headers = {**service, "Content-Type": content_type}
        return lambda client, found: client.post(collections, content=content, headers=headers)

    def get(
        query: str = "?purpose=service",
        headers: dict[str, str] | None = service,
        *,
        subject: str | None = None,
        tail: str = "",
        method: str = "GET",
    ) -> Step:
        def step(client: TestClient, found: dict[str, str]) -> Any:
            path = f"/api/v1/subjects/{subject or found['subject']}/items{tail}{query}"
            return client.request(method, path, headers=headers)

        return step

    body = json.dumps(_collect_body(run)).encode()
    undeclared = {**_person(run), "shoe size": "270"}
    return [
        ("collect", collect),
        ("collect again", post()),
        ("collect, no consent", post(consent=None)),
        ("collect, unknown field", post(extra=1)),
        ("collect, undeclared item", post(items=undeclared)),
        ("collect, consent refused", post(consent={"granted": False, "method": "web-form"})),
        ("collect, undeclared purpose", post(purpose="nope")),
        ("collect, token of another purpose", post(other)),
        ("collect, bad token", post(bad)),
        ("collect, no token", post(None)),
        ("collect, basic auth", post(basic)),
        ("collect, two spaces after Bearer", post(spaced)),
        ("collect, nested too deep", raw(b"[" * 3000 + b"]" * 3000)),
        ("collect, malformed JSON", raw(b'{"purpose": ')),
        ("collect, not UTF-8", raw(b'{"purpose": "\xff"}')),
        ("collect, empty body", raw(b"")),
        ("collect, a JSON list", raw(b"[]")),
        ("collect, text/plain", raw(body, "text/plain")),
        ("collect, json with charset", raw(body, "application/json; charset=utf-8")),
        ("collect, duplicate key", raw(body[:-1] + b', "purpose": "marketing"}')),
        ("read", get()),
        ("read, lower-case scheme", get(headers=lower)),
        ("read, one item", get("?purpose=service&item=email")),
        ("read, escaped purpose", get("?purpose=%73ervice")),
        ("read, purpose twice", get("?purpose=service&purpose=marketing")),
        ("read, empty purpose", get("?purpose=")),
        ("read, long purpose", get("?purpose=" + "p" * 64)),
        ("read, 63-character purpose", get("?purpose=" + "p" * 63)),
        ("read, hold purpose", get("?purpose=hold:service")),
        ("read, escaped hold purpose", get("?purpose=hold%3Aservice")),
        ("read, no purpose", get("")),
        ("read, not consented", get("?purpose=marketing", other)),
        ("read, purpose not served", get("?purpose=marketing")),
        ("read, unknown subject", get(subject=unknown)),
        ("read, id too long", get(subject="a" * 37)),
        ("read, bad token", get(headers=bad)),
        ("read, no token", get(headers=None)),
        ("read, empty bearer", get(headers=empty)),
        ("read, two spaces after Bearer", get(headers=spaced)),
        ("read, HEAD", get(method="HEAD")),
        ("read, trailing slash", get(tail="/")),
    ]


def _run(engine: Engine, *, hot_routes: bool, run: str) -> list[tuple[str, Any]]:
    tokens = {
        purpose: engine.create_token(name=f"{run}-{purpose}", purposes=[purpose])[1]
        for purpose in ("service", "marketing")
    }
    first_event = max((event.id for event in engine.events(limit=1)), default=0)
    app = create_app(engine=engine, hot_routes=hot_routes)
    answers: list[tuple[str, Any]] = []
    found: dict[str, str] = {}
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        for name, step in _steps(run, tokens):
            response = step(client, found)
            headers = {
                key: response.headers.get(key)
                for key in ("content-type", "www-authenticate", "retry-after", "allow")
            }
            answers.append((name, response.status_code, _normal(response.text, run), headers))
    events = [
        (event.action, event.outcome, event.code, _normal(event.actor, run), event.source_ip)
        for event in reversed(engine.events(limit=500))
        if event.id > first_event and event.action != "token_create"
    ]
    answers.append(("events", events))
    return answers


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the operations the hot routes served themselves."""
    served: list[str] = []
    for name in ("read_items_now", "collect_now"):
        original = getattr(hot, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kw: Any) -> Any:
            served.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(hot, name, counted)
    return served


def test_the_hot_routes_answer_as_fastapi_does(engine: Engine, served: list[str]) -> None:
    """Same statuses, bodies, headers and audit events; the plain requests went hot."""
    plain = _run(engine, hot_routes=False, run="plainrun")
    assert served == []
    fast = _run(engine, hot_routes=True, run="hotrun")
    for expected, got in zip(plain, fast, strict=True):
        assert got == expected
    statuses = {answer[0]: answer[1] for answer in plain[:-1]}
    # The scenario covers successes and refusals of every kind, not only one outcome.
    assert statuses["collect"] == statuses["collect again"] == 201
    assert statuses["read"] == statuses["read, lower-case scheme"] == 200
    assert {401, 403, 404, 422} <= set(statuses.values())
    # Served hot: the plain collections and reads with a bearer, whatever their outcome.
    assert served.count("collect_now") == 10
    assert served.count("read_items_now") == 9


def _post_collection(engine: Engine, app: Any, token: str, messages: list[dict[str, Any]]) -> int:
    """POST a collection straight to the ASGI app, its body as the given messages."""
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    sent = post_raw(engine, receive, [(b"authorization", f"Bearer {token}".encode())], app=app)
    return int(sent[0]["status"])


@pytest.mark.parametrize("hot_routes", [False, True])
def test_a_client_gone_before_the_end_of_its_body_stores_nothing(
    engine: Engine, hot_routes: bool
) -> None:
    """The whole JSON arrived, but the client left before the body's end: 400, nothing kept."""
    _, token = engine.create_token(name="gone", purposes=["service"])
    app = create_app(engine=engine, hot_routes=hot_routes)
    body = json.dumps(_collect_body("gone")).encode()
    messages = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.disconnect"},
    ]
    before = engine.events(limit=1)[0].id
    assert _post_collection(engine, app, token, messages) == 400
    assert [event.action for event in engine.events(limit=5) if event.id > before] == []
    whole = [{"type": "http.request", "body": body, "more_body": False}]
    assert _post_collection(engine, app, token, whole) == 201


def test_under_a_root_path_fastapi_routes(engine: Engine, served: list[str]) -> None:
    """Mounted under a root path, the plain read and collection are FastAPI's (404)."""
    _, token = engine.create_token(name="mounted", purposes=["service"])
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(engine=engine), root_path="/api") as client:
        collected = client.post("/api/v1/collections", json=_collect_body("mounted"), headers=auth)
        read = client.get(f"/api/v1/subjects/{UNKNOWN}/items?purpose=service", headers=auth)
    assert (collected.status_code, read.status_code) == (404, 404)
    assert served == []
