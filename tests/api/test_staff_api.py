"""Staff over HTTP: login, sessions as bearer tokens, and the staff management endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app
from haechi.engine import SYSTEM
from tests.conftest import FakeClock

NEW_PASSWORD = "correct horse battery"


@pytest.fixture
def local(engine: Engine) -> Iterator[TestClient]:
    """A client on the loopback network (trusted by default)."""
    app = create_app(engine=engine)
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000)) as client:
        yield client


@pytest.fixture
def remote(engine: Engine) -> Iterator[TestClient]:
    """A client from the outside (TOTP required)."""
    app = create_app(engine=engine)
    with TestClient(app, raise_server_exceptions=False, client=("203.0.113.9", 50000)) as client:
        yield client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def login(client: TestClient, username: str, password: str, **extra: str) -> dict[str, object]:
    response = client.post(
        "/api/v1/auth/login", json={"username": username, "password": password, **extra}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def officer_session(engine: Engine, client: TestClient) -> dict[str, str]:
    """The privacy officer, logged in with its password changed."""
    credentials = engine.add_staff(username="park", role="privacy_officer", actor=SYSTEM)
    token = str(login(client, "park", credentials.password)["token"])
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": credentials.password, "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert changed.status_code == 204, changed.text
    return bearer(token)


def test_first_login_must_change_the_one_time_password(engine: Engine, local: TestClient) -> None:
    """It answers 403 PASSWORD_CHANGE_REQUIRED until the one-time password is changed."""
    credentials = engine.add_staff(username="park", role="privacy_officer", actor=SYSTEM)
    session = login(local, "park", credentials.password)
    assert session["must_change_password"] is True
    assert str(session["token"]).startswith("hcs_")
    auth = bearer(str(session["token"]))
    blocked = local.get("/api/v1/staff", headers=auth)
    assert (blocked.status_code, blocked.json()["code"]) == (403, "PASSWORD_CHANGE_REQUIRED")
    weak = local.post(
        "/api/v1/auth/password",
        json={"current_password": credentials.password, "new_password": "abc"},
        headers=auth,
    )
    assert (weak.status_code, weak.json()["code"]) == (422, "WEAK_PASSWORD")
    local.post(
        "/api/v1/auth/password",
        json={"current_password": credentials.password, "new_password": NEW_PASSWORD},
        headers=auth,
    )
    assert local.get("/api/v1/staff", headers=auth).status_code == 200


def test_bad_passwords_are_401_and_lock_the_account(engine: Engine, local: TestClient) -> None:
    """It answers 401 BAD_PASSWORD, the locking one too, never echoing the password."""
    auth = officer_session(engine, local)
    engine.add_staff(username="kim", role="handler", actor=SYSTEM)
    answers = [
        local.post("/api/v1/auth/login", json={"username": "kim", "password": "hunter2!"})
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [401] * 5
    assert {a.json()["code"] for a in answers} == {"BAD_PASSWORD"}
    assert all("hunter2" not in a.text for a in answers)
    listed = {a["username"]: a for a in local.get("/api/v1/staff", headers=auth).json()}
    assert listed["kim"]["locked"] is True
    unlocked = local.post("/api/v1/staff/kim/unlock", json={"reason": "called"}, headers=auth)
    assert unlocked.status_code == 204


def test_remote_logins_need_a_totp_code(
    engine: Engine, remote: TestClient, clock: FakeClock
) -> None:
    """It answers 401 TOTP_REQUIRED from outside the trusted networks, and accepts a code."""
    credentials = engine.add_staff(username="park", role="privacy_officer", actor=SYSTEM)
    missing = remote.post(
        "/api/v1/auth/login", json={"username": "park", "password": credentials.password}
    )
    assert (missing.status_code, missing.json()["code"]) == (401, "TOTP_REQUIRED")
    assert credentials.totp_uri is not None
    code = pyotp.TOTP(pyotp.parse_uri(credentials.totp_uri).secret).at(clock.now)
    session = login(remote, "park", credentials.password, totp=code)
    assert session["token"]
    login_event = engine.events(limit=1)[0]
    assert (login_event.action, login_event.source_ip) == ("login", "203.0.113.9")


def test_staff_management_and_immediate_revocation(
    engine: Engine, local: TestClient, person: dict[str, str]
) -> None:
    """It creates a handler, lets it read, and refuses it on the call after a revocation."""
    officer = officer_session(engine, local)
    created = local.post(
        "/api/v1/staff",
        json={"username": "kim", "role": "handler", "purposes": ["service"], "reason": "sales"},
        headers=officer,
    )
    assert created.status_code == 201, created.text
    one_time = created.json()["one_time_password"]
    assert created.json()["totp_uri"].startswith("otpauth://")
    token = str(login(local, "kim", one_time)["token"])
    handler = bearer(token)
    local.post(
        "/api/v1/auth/password",
        json={"current_password": one_time, "new_password": NEW_PASSWORD},
        headers=handler,
    )
    collected = local.post(
        "/api/v1/collections",
        json={
            "purpose": "service",
            "items": person,
            "consent": {"granted": True, "method": "web-form"},
        },
        headers=handler,
    )
    assert collected.status_code == 201, collected.text
    items = f"/api/v1/subjects/{collected.json()['subject_id']}/items?purpose=service"
    assert local.get(items, headers=handler).status_code == 200
    grant = local.post(
        "/api/v1/staff/kim/grants",
        json={"purposes": ["complaints"], "reason": "helpdesk cover"},
        headers=officer,
    )
    assert grant.json() == {"granted": ["complaints"]}
    revoked = local.post(
        "/api/v1/staff/kim/revoke",
        json={"purposes": ["service"], "reason": "left sales"},
        headers=officer,
    )
    assert revoked.status_code == 204
    refused = local.get(items, headers=handler)
    assert (refused.status_code, refused.json()["code"]) == (403, "NO_GRANT")
    history = local.get("/api/v1/staff/history?username=kim", headers=officer).json()
    assert [(h["change"], h["purpose"] or h["role"]) for h in history] == [
        ("create", "handler"),
        ("grant", "service"),
        ("grant", "complaints"),
        ("revoke", "service"),
    ]
    closed = local.post(
        "/api/v1/staff/kim/revoke", json={"account": True, "reason": "left"}, headers=officer
    )
    assert closed.status_code == 204
    gone = local.get(items, headers=handler)
    assert (gone.status_code, gone.json()["code"]) == (401, "INVALID_TOKEN")


def test_roles_guard_the_management_endpoints(engine: Engine, local: TestClient) -> None:
    """It lets auditors read accounts but not change them, and refuses API tokens."""
    officer = officer_session(engine, local)
    auditor = local.post(
        "/api/v1/staff", json={"username": "choi", "role": "auditor"}, headers=officer
    ).json()
    token = str(login(local, "choi", auditor["one_time_password"])["token"])
    local.post(
        "/api/v1/auth/password",
        json={"current_password": auditor["one_time_password"], "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert local.get("/api/v1/staff", headers=bearer(token)).status_code == 200
    refused = local.put(
        "/api/v1/staff/choi/role",
        json={"role": "privacy_officer", "reason": "promote myself"},
        headers=bearer(token),
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_REQUIRED")
    _, secret = engine.create_token(name="crm", purposes=["service"])
    assert local.get("/api/v1/staff", headers=bearer(secret)).status_code == 403
    reset = local.post(
        "/api/v1/staff/choi/password-reset", json={"new_totp": True}, headers=officer
    )
    assert reset.status_code == 200
    assert local.get("/api/v1/staff", headers=bearer(token)).status_code == 401


def test_logout_and_idle_timeout(engine: Engine, local: TestClient, clock: FakeClock) -> None:
    """It answers 401 SESSION_EXPIRED after the idle timeout, and INVALID_TOKEN after logout."""
    officer = officer_session(engine, local)
    clock.advance(minutes=31)
    expired = local.get("/api/v1/staff", headers=officer)
    assert (expired.status_code, expired.json()["code"]) == (401, "SESSION_EXPIRED")
    token = str(login(local, "park", NEW_PASSWORD)["token"])
    assert local.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    after = local.get("/api/v1/staff", headers=bearer(token))
    assert (after.status_code, after.json()["code"]) == (401, "INVALID_TOKEN")
