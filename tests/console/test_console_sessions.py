"""Console sessions: cookie attributes, CSRF, idle timeout, fixation, lockout, logout, TOTP."""

from __future__ import annotations

import pyotp
import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.access.sessions import SESSION_PREFIX
from haechi.engine import SYSTEM
from haechi.errors import PermissionDenied
from tests.access.staff_helpers import NEW_PASSWORD, add_and_login
from tests.conftest import FakeClock
from tests.console.support import COOKIE, console, csrf_of, denials, login_as

__all__ = ["console"]


def _login(client: TestClient, username: str, password: str, totp: str = "") -> object:
    page = client.get("/console/login")
    assert page.status_code == 200
    return client.post(
        "/console/login",
        data={
            "csrf_token": csrf_of(page.text),
            "username": username,
            "password": password,
            "totp": totp,
        },
    )


def test_login_sets_a_strict_http_only_cookie_without_secure_on_loopback(
    engine: Engine, console: TestClient
) -> None:
    """It sets HttpOnly and SameSite=Strict, scoped to /console; Secure is left out on loopback."""
    add_and_login(engine, "officer", "privacy_officer")
    response = _login(console, "officer", NEW_PASSWORD)
    assert response.status_code == 303  # type: ignore[attr-defined]
    cookie = next(
        header
        for header in response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
        if header.startswith(COOKIE + "=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie
    assert console.get("/console").status_code == 200


def test_cookies_are_secure_away_from_loopback(engine: Engine) -> None:
    """It marks every console cookie Secure when reached by another host name."""
    from haechi.api import create_app

    with TestClient(
        create_app(engine=engine), base_url="https://console.example", follow_redirects=False
    ) as remote:
        response = remote.get("/console/login")
    assert "Secure" in response.headers["set-cookie"]


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    engine: Engine, console: TestClient
) -> None:
    """It refuses a POST whose token is missing, wrong or another session's (403)."""
    login_as(console, engine, "officer", "privacy_officer")
    other = TestClient(console.app, base_url="http://127.0.0.1", follow_redirects=False)
    login_as(other, engine, "second", "privacy_officer")
    foreign = csrf_of(other.get("/console/staff").text)
    for token in (None, "", "0" * 64, foreign):
        data = {"username": "intruder", "role": "auditor", "reason": "x"}
        if token is not None:
            data["csrf_token"] = token
        response = console.post("/console/staff", data=data)
        assert response.status_code == 403
        assert 'data-error="CSRF"' in response.text
    assert "intruder" not in {account.username for account in engine.staff(actor=SYSTEM)}


def test_the_login_form_itself_needs_its_token(engine: Engine, console: TestClient) -> None:
    """It refuses a login posted without the token of the login page (login CSRF)."""
    add_and_login(engine, "officer", "privacy_officer")
    response = console.post(
        "/console/login", data={"username": "officer", "password": NEW_PASSWORD}
    )
    assert response.status_code == 403
    assert COOKIE not in response.headers.get("set-cookie", "")


def test_an_idle_session_ends_and_sends_the_browser_to_the_login(
    engine: Engine, console: TestClient, clock: FakeClock
) -> None:
    """It ends a session idle past the timeout: an event, and the login page says why."""
    login_as(console, engine, "officer", "privacy_officer")
    assert console.get("/console").status_code == 200
    clock.advance(minutes=engine.settings.auth.idle_timeout_minutes)
    response = console.get("/console/requests")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?reason=session_expired")
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert [event.action for event in engine.events(limit=5)].count("session_expired") == 1
    page = console.get(response.headers["location"])
    assert "사용하지 않아 세션이 끝났습니다" in page.text


def test_login_never_adopts_a_session_id_the_browser_brought(
    engine: Engine, console: TestClient
) -> None:
    """It gives a new session at login, and ends the session the browser held before."""
    old_secret, _ = add_and_login(engine, "officer", "privacy_officer")
    planted = SESSION_PREFIX + "planted-by-someone-else"
    for before in (planted, old_secret):
        console.cookies.clear()
        console.cookies.set(COOKIE, before)
        response = _login(console, "officer", NEW_PASSWORD)
        assert response.status_code == 303  # type: ignore[attr-defined]
        fresh = response.cookies.get(COOKIE)  # type: ignore[attr-defined]
        assert fresh is not None
        assert fresh != before
        assert fresh.startswith(SESSION_PREFIX)
    with pytest.raises(PermissionDenied):
        engine.authenticate(old_secret)


def test_failed_logins_lock_the_account(engine: Engine, console: TestClient) -> None:
    """It counts wrong passwords from the form and locks at the threshold; each is an event.

    The form tells of the lock only to the right password.
    """
    add_and_login(engine, "officer", "privacy_officer")
    threshold = engine.settings.auth.lockout_threshold
    statuses = [
        _login(console, "officer", "wrong password").status_code  # type: ignore[attr-defined]
        for _ in range(threshold)
    ]
    assert statuses == [401] * threshold
    locked = _login(console, "officer", NEW_PASSWORD)
    assert locked.status_code == 403  # type: ignore[attr-defined]
    assert "locked" in locked.text or "잠" in locked.text  # type: ignore[attr-defined]
    assert COOKIE not in console.cookies
    assert len(denials(engine, "login")) == threshold + 1


def test_logout_ends_the_session_for_every_surface(engine: Engine, console: TestClient) -> None:
    """It ends the session in the database: the API refuses the same secret afterwards."""
    secret = login_as(console, engine, "officer", "privacy_officer")
    token = csrf_of(console.get("/console").text)
    response = console.post("/console/logout", data={"csrf_token": token})
    assert response.status_code == 303
    with pytest.raises(PermissionDenied):
        engine.authenticate(secret)
    api = console.get("/api/v1/staff", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401
    assert console.get("/console").status_code == 303


def test_from_outside_the_office_network_a_totp_code_is_needed(
    engine: Engine, clock: FakeClock
) -> None:
    """It asks a remote login for a TOTP code, refuses a wrong one, and takes the right one."""
    from haechi.api import create_app

    credentials = engine.add_staff(username="officer", role="privacy_officer", actor=SYSTEM)
    assert credentials.totp_uri is not None
    totp = pyotp.parse_uri(credentials.totp_uri)
    with TestClient(
        create_app(engine=engine),
        base_url="https://console.example",
        client=("203.0.113.9", 40000),
        follow_redirects=False,
    ) as remote:
        assert _login(remote, "officer", credentials.password).status_code == 401  # type: ignore[attr-defined]
        code = totp.at(clock.now)
        wrong = str((int(code) + 1) % 1_000_000).zfill(6)
        assert _login(remote, "officer", credentials.password, wrong).status_code == 401  # type: ignore[attr-defined]
        response = _login(remote, "officer", credentials.password, code)
        assert response.status_code == 303  # type: ignore[attr-defined]
        assert response.headers["location"] == "/console/password"  # type: ignore[attr-defined]
        assert remote.get("/console").headers["location"] == "/console/password"
        assert remote.get("/console/password").status_code == 200
