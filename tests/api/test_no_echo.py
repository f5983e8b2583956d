"""Error bodies name fields, never the client's text: defects the fuzzer found, kept fixed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.engine import SYSTEM
from tests.api.test_staff_api import local, officer_session

__all__ = ["local"]

CHOSEN = "ClientChosenName"


def test_a_refused_correction_key_is_not_echoed(local: TestClient) -> None:
    """It names ``corrections.<undeclared>``, not the (invalid) key the client chose."""
    response = local.post(
        "/api/v1/public/requests",
        json={
            "kind": "correction",
            "email": "a@example.kr",
            "corrections": {f"{CHOSEN}\u202e": "value"},
        },
    )
    assert response.status_code == 422, response.text
    assert CHOSEN not in response.text
    assert "corrections.<undeclared>" in response.text


def test_a_representative_key_is_not_echoed(engine: Engine, local: TestClient) -> None:
    """It names ``representative.<undeclared>`` for a bad value under a client's key."""
    response = local.post(
        "/api/v1/requests",
        json={
            "kind": "access",
            "channel": "document",
            "email": "a@example.kr",
            "representative": {f"{CHOSEN}\u202e": "x", "name": "a\u202eb"},
        },
        headers=officer_session(engine, local),
    )
    assert response.status_code == 422, response.text
    assert CHOSEN not in response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/staff/{name}/unlock", {"reason": "asked by phone"}),
        ("put", "/api/v1/staff/{name}/role", {"role": "handler", "reason": "moved"}),
        ("post", "/api/v1/staff/{name}/grants", {"purposes": ["service"], "reason": "new"}),
    ],
    ids=["not-locked", "same-role", "not-a-handler"],
)
def test_a_refusal_about_an_account_does_not_repeat_its_name(
    engine: Engine, local: TestClient, method: str, path: str, body: dict[str, object]
) -> None:
    """It refuses (409) without quoting the username from the URL."""
    headers = officer_session(engine, local)
    engine.add_staff(username=CHOSEN, role="handler", actor=SYSTEM)
    if "grants" in path:
        engine.change_staff_role(CHOSEN, role="auditor", reason="audit", actor=SYSTEM)
    response = getattr(local, method)(path.format(name=CHOSEN), json=body, headers=headers)
    assert response.status_code == 409, response.text
    assert CHOSEN not in response.text


def test_a_duplicate_account_name_is_not_repeated(engine: Engine, local: TestClient) -> None:
    """It refuses a second account of one name without quoting the name."""
    headers = officer_session(engine, local)
    engine.add_staff(username=CHOSEN, role="handler", actor=SYSTEM)
    response = local.post(
        "/api/v1/staff",
        json={"username": CHOSEN, "role": "handler", "reason": "again"},
        headers=headers,
    )
    assert response.status_code == 409, response.text
    assert CHOSEN not in response.text
