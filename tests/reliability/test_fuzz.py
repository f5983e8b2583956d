"""Schemathesis against a real ``haechi serve``: every operation, valid and invalid input.

Each operation of the OpenAPI document gets generated requests, valid (positive) and
invalid (negative), some with a hostile value put into one of their strings or numbers
(a lone surrogate, NUL, 10k characters, an RTL mark, a number of 400 digits), and
the stateful phase follows the links the document declares from a creation to the
operations on what it created. Every response must be no 5xx, conform to the
document, be JSON with an error code when it is an error, and echo neither the
client's text nor a personal value put on file.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, strategies
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import PERSON
from tests.reliability.live import OFFICER, Live, live_server

pytestmark = pytest.mark.slow

EXAMPLES = 8
STATEFUL_ROUNDS = 20  # a bound: the rounds stop once every family was reached
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Strings of 10k characters, control and bidirectional characters, and numbers no
# column holds; a lone surrogate travels as its JSON escape (json.dumps writes it so).
HOSTILE: list[object] = [
    "\ud800",
    "x\udfffy",
    "a\x00b",
    "\u202eevil",
    "z" * 10_000,
    10**400,
    -(10**400),
    1.7976931348623157e308,
]
# Ending a session or changing its password would lock the rest of the run out; both
# are fuzzed with throwaway credentials by their own tests in tests/api.
EXCLUDED = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password")}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("fuzz") / "data") as served:
        yield served


def _spec(live: Live) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json").exclude(
        func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in EXCLUDED
    )


@pytest.fixture(scope="module")
def api(live: Live) -> Any:
    return _spec(live)


#: People on file for the link walk: each valid request it enters names another one, so
#: that a request is new (201/202 with a real id), not refused as already open or capped.
ON_FILE = 40


def _on_file(n: int) -> str:
    return f"onfile{n % ON_FILE}@example.kr"


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Live, Any]]:
    """A server of its own, with people on file: the walk starts from the set-up alone."""
    import httpx

    with live_server(tmp_path / "data") as served, httpx.Client(timeout=30) as client:
        for n in range(ON_FILE):
            created = client.post(
                f"{served.url}/api/v1/collections",
                json={
                    "purpose": "service",
                    "items": {**PERSON, "email": _on_file(n)},
                    "consent": _CONSENT,
                },
                headers=served.headers_for("/api/v1/collections"),
            )
            assert created.status_code == 201, created.text
        yield served, _spec(served)


def _vocabulary(document: dict[str, Any]) -> set[str]:
    """Every word the document itself holds: names and enum values may be echoed."""
    words: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                words.add(str(key))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            words.add(node)

    walk(document)
    return words | DOMAIN_WORDS


# An error code (INVALID_INPUT…) is the server's word even when the client sent it too.
ERROR_CODE = re.compile(r"[A-Z][A-Z_]+")
# The policy's and the engine's own words: naming them in an error is no echo.
DOMAIN_WORDS = {
    "access",
    "correction",
    "deletion",
    "suspension",
    "withdrawal",
    "service",
    "marketing",
    "complaints",
    "web-form",
    "handler",
    "auditor",
    "privacy_officer",
    "officer",
}


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from _strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _strings(inner)


def client_texts(case: Case, vocabulary: set[str]) -> set[str]:
    """The distinctive texts the client sent: what an error body may not repeat."""
    sent = [case.body, case.query, case.path_parameters, case.headers]
    return {
        text
        for part in sent
        if part is not None
        for text in _strings(part)
        if len(text.strip()) >= 6
        and not any(text in word for word in vocabulary)
        and not text.isdigit()
        and not ERROR_CODE.fullmatch(text)
    }


def check_error_body(response: Any, case: Case, live: Live, vocabulary: set[str]) -> None:
    """A 4xx is JSON with an error code, repeating no client text and no personal value."""
    if response.status_code < 400:
        return
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
        case.as_curl_command()
    )
    body = json.loads(response.text)
    assert isinstance(body.get("code"), str), response.text
    assert isinstance(body.get("error"), str), response.text
    for text in client_texts(case, vocabulary) | set(live.personal_values):
        assert text not in response.text, f"{case.as_curl_command()} echoed {text[:40]!r}"


def _leaves(value: object, path: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _leaves(inner, (*path, index))
    elif isinstance(value, str | int | float) and not isinstance(value, bool) and path:
        yield path


def _replace(container: Any, path: tuple[object, ...], value: object) -> None:
    for step in path[:-1]:
        container = container[step]
    container[path[-1]] = value


def poison(case: Case, draw: Any) -> None:
    """Put one hostile value in place of one string or number of the body."""
    body = case.body
    if not isinstance(body, dict | list):
        return
    leaves = list(_leaves(body))
    if not leaves:
        return
    _replace(body, draw(strategies.sampled_from(leaves)), draw(strategies.sampled_from(HOSTILE)))


def _operations(api: Any) -> list[Any]:
    return [result.ok() for result in api.get_all_operations()]


def _run(operation: Any, mode: GenerationMode, live: Live, vocabulary: set[str]) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode), data=strategies.data())
    def run(case: Case, data: Any) -> None:
        if data.draw(strategies.booleans(), label="poisoned"):
            poison(case, data.draw)
        headers = live.headers_for(operation.path)
        response = case.call(headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)
        check_error_body(response, case, live, vocabulary)

    run()


def test_every_operation_answers_hostile_and_valid_input_without_5xx(live: Live, api: Any) -> None:
    """It answers every generated request with a documented, non-5xx, non-echoing answer."""
    vocabulary = _vocabulary(api.raw_schema)
    failures: list[str] = []
    operations = _operations(api)
    assert len(operations) >= 40
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run(operation, mode, live, vocabulary)
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing to make invalid (no parameters, no body)
            except Exception as exc:  # collect all, report together
                failures.append(f"{operation.method.upper()} {operation.path} {mode}: {exc}")
    assert not failures, "\n\n".join(failures)


def _person(n: int) -> dict[str, str]:
    return {**PERSON, "email": f"fuzz{n}@example.kr"}


_CONSENT = {"granted": True, "method": "web-form"}
# Valid bodies for the operations that create what the links lead to.
CREATIONS: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/collections"): lambda n: {
        "purpose": "service",
        "items": _person(n),
        "consent": _CONSENT,
    },
    ("POST", "/api/v1/public/requests"): lambda n: {
        "kind": ("access", "deletion")[n // 2 % 2],
        "email": _on_file(n),
    },
    ("POST", "/api/v1/requests"): lambda n: {
        "kind": ("access", "deletion", "suspension")[n // 2 % 3],
        "channel": "email",
        "email": _on_file(n),  # staff enter requests of people on file
    },
    ("POST", "/api/v1/public/complaints"): lambda n: {
        "items": _person(n),
        "description": "The newsletter keeps coming after I withdrew.",
        "consent": _CONSENT,
    },
}


def test_links_reach_real_subjects_collections_and_requests(fresh: tuple[Live, Any]) -> None:
    """It follows the declared links, so the fuzzer works on things that exist."""
    live, api = fresh
    machine = api.as_state_machine()
    seen: dict[str, set[int]] = {}
    vocabulary = _vocabulary(api.raw_schema)

    failures: list[str] = []
    creations: dict[str, int] = {}

    class Walk(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case: Case) -> None:
            # The run's own session must live: its account is not the fuzzer's to change.
            if (case.path_parameters or {}).get("username") == OFFICER:
                case.path_parameters["username"] = "someone-else"
            creations.setdefault(case.operation.path, 0)
            creations[case.operation.path] += 1
            # Every other creation is made valid (the rest stays generated), so the links
            # lead on to things that exist.
            start = CREATIONS.get((case.operation.method.upper(), case.operation.path))
            if start is not None and creations[case.operation.path] % 2:
                case.body = start(creations[case.operation.path])
                case.media_type = "application/json"

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"headers": live.headers_for(case.operation.path), "timeout": 30}

        def validate_response(self, response: Any, case: Case, **kwargs: Any) -> None:
            # Failures are collected, not raised: the server keeps state, so Hypothesis
            # could not replay a failing sequence (it would report it as flaky).
            seen.setdefault(case.operation.path, set()).add(response.status_code)
            try:
                case.validate_response(
                    response, checks=CHECKS, headers=live.headers_for(case.operation.path)
                )
                check_error_body(response, case, live, vocabulary)
            except Exception as exc:
                failures.append(f"{case.operation.method.upper()} {case.operation.path}: {exc}")

    # Families of operations on something that exists: a collection (or its subject's
    # items), a request (entered by staff or made on the web), a complaint. Each must be
    # reached through a link by at least one of its operations.
    targets = (
        ("/api/v1/collections/{collection_id}", "/api/v1/subjects/{subject_id}"),
        ("/api/v1/requests/{request_id}", "/api/v1/public/requests/{request_id}"),
        ("/api/v1/complaints/{complaint_id}", "/api/v1/public/complaints/{complaint_id}"),
    )

    def family_reached(group: tuple[str, ...]) -> bool:
        return any(path.startswith(group) for path in reached())

    def reached() -> set[str]:
        # Reached: answered with what only an existing subject, collection or request
        # gets (a 2xx, or a decision's 403 on a real subject).
        return {path for path, codes in seen.items() if codes & {200, 201, 202, 204, 403}}

    # Rounds until every target was reached, within a bound (as schemathesis's own
    # runner repeats the stateful phase until its time budget is spent).
    rounds = 0
    while rounds < STATEFUL_ROUNDS:
        rounds += 1
        with contextlib.suppress(hypothesis.errors.Flaky):
            Walk.run(
                settings=hypothesis.settings(
                    max_examples=30,
                    stateful_step_count=6,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[hypothesis.Phase.generate],
                )
            )
        if all(family_reached(group) for group in targets) or failures:
            break
    assert not failures, "\n\n".join(failures)
    for group in targets:
        assert family_reached(group), f"{group} not reached: {sorted(seen.items())}"
    print(
        f"\nlink walk: every family reached in {rounds} round(s), {sum(creations.values())} calls"
    )


def test_the_session_outlived_the_fuzzing(live: Live, tmp_path: Path) -> None:
    """It still accepts the officer's session: the answers above were not all 401s."""
    import httpx

    response = httpx.get(f"{live.url}/api/v1/staff", headers=live.headers_for("/api/v1/staff"))
    assert response.status_code == 200, response.text
