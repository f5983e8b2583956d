"""Where a request comes from: trusted proxies, and the address on every audit event."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network

import pytest
from fastapi.testclient import TestClient

from haechi import Engine, Settings
from haechi.api import create_app
from haechi.api.middleware import client_from
from haechi.crypto.keys import LocalKeyProvider
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from tests.api.test_staff_api import NEW_PASSWORD, bearer, login, officer_session
from tests.conftest import Database, FakeClock, cheap_auth

PROXIES = (ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("10.0.0.5", ["127.0.0.1, 203.0.113.9"], "203.0.113.9"),
        ("10.0.0.5", ["203.0.113.9, 10.0.0.7"], "203.0.113.9"),
        ("10.0.0.5", ["127.0.0.1", "203.0.113.9"], "203.0.113.9"),
        ("10.0.0.5", ["10.0.0.9, 10.0.0.7"], "10.0.0.9"),
        ("10.0.0.5", ["127.0.0.1, not-an-address"], None),
        ("10.0.0.5", [""], "10.0.0.5"),
        ("198.51.100.1", ["127.0.0.1"], "198.51.100.1"),
    ],
    ids=["appended", "two-proxies", "two-headers", "all-proxies", "garbage", "empty", "untrusted"],
)
def test_the_client_is_the_rightmost_address_no_listed_proxy_holds(
    peer: str, headers: list[str], client: str | None
) -> None:
    """It walks X-Forwarded-For from the right, only from a listed proxy, failing closed."""
    assert client_from(peer, headers, PROXIES) == client


@pytest.fixture
def proxied(
    database: Database, keys: LocalKeyProvider, clock: FakeClock, settings: Settings
) -> Iterator[tuple[Engine, TestClient]]:
    """A server behind a proxy at 10.0.0.5, which server.trusted_proxies lists."""
    engine = Engine(
        database=database.engine,
        policy=parse_policy(demo_policy_text()),
        keys=keys,
        settings=Settings(
            data_dir=settings.data_dir,
            auth=cheap_auth(),
            server={"trusted_proxies": ["10.0.0.0/8"]},
        ),
        clock=clock,
    )
    app = create_app(engine=engine)
    with TestClient(app, raise_server_exceptions=False, client=("10.0.0.5", 50000)) as client:
        yield engine, client


def test_a_loopback_entry_before_the_client_skips_no_totp(
    proxied: tuple[Engine, TestClient],
) -> None:
    """It requires TOTP for ``127.0.0.1, 203.0.113.9`` through the proxy and logs 203.0.113.9."""
    engine, client = proxied
    credentials = engine.add_staff(username="park", role="privacy_officer", actor=SYSTEM)
    response = client.post(
        "/api/v1/auth/login",
        json={"username": "park", "password": credentials.password},
        headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.9"},
    )
    assert (response.status_code, response.json()["code"]) == (401, "TOTP_REQUIRED")
    event = engine.events(limit=1)[0]
    assert (event.action, event.source_ip) == ("login", "203.0.113.9")


def test_an_old_trust_forwarded_for_setting_names_its_replacement() -> None:
    """It refuses server.trust_forwarded_for, naming server.trusted_proxies."""
    with pytest.raises(ValueError, match=r"server\.trusted_proxies"):
        Settings(server={"trust_forwarded_for": True})


@pytest.fixture
def local(engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine=engine)
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000)) as client:
        yield client


def test_every_event_of_the_mutating_endpoints_records_the_source(
    engine: Engine, local: TestClient, person: dict[str, str]
) -> None:
    """It records the caller's address on every event, allowed or refused, of every endpoint."""
    first = engine.events(limit=1)[0].id if engine.events(limit=1) else 0
    officer = officer_session(engine, local)
    _, secret = engine.create_token(name="crm", purposes=["service"])
    crm = bearer(secret)
    marker = engine.events(limit=1)[0].id  # token_create is the CLI's: no address
    collect = {"purpose": "service", "items": person, "consent": {"granted": True, "method": "f"}}
    created = local.post("/api/v1/collections", json=collect, headers=crm).json()
    collection = f"/api/v1/collections/{created['collection_id']}"
    items = f"/api/v1/subjects/{created['subject_id']}/items"
    handler = local.post(
        "/api/v1/staff",
        json={"username": "kim", "role": "handler", "purposes": ["complaints"]},
        headers=officer,
    ).json()
    kim_token = str(login(local, "kim", handler["one_time_password"])["token"])
    kim = bearer(kim_token)
    calls = [
        local.post(
            "/api/v1/auth/password",
            json={"current_password": "wrong-password", "new_password": NEW_PASSWORD},
            headers=kim,
        ),
        local.post(
            "/api/v1/auth/password",
            json={"current_password": handler["one_time_password"], "new_password": NEW_PASSWORD},
            headers=kim,
        ),
        local.post("/api/v1/collections", json={**collect, "purpose": "marketing"}, headers=crm),
        local.get(items, params={"purpose": "service"}, headers=crm),
        local.get(items, params={"purpose": "service"}, headers=kim),
        local.post(
            "/api/v1/subjects/lookup",
            json={"kind": "phone", "value": "010-9999-8888"},
            headers=crm,
        ),
        local.get(collection, headers=crm),
        local.post(f"{collection}/withdraw", json={}, headers=kim),
        local.post(f"{collection}/withdraw", json={}, headers=crm),
        local.post(f"{collection}/accomplished", json={}, headers=crm),
        local.post("/api/v1/staff", json={"username": "lee", "role": "auditor"}, headers=kim),
        local.post(
            "/api/v1/staff/kim/grants",
            json={"purposes": ["service"], "reason": "cover"},
            headers=officer,
        ),
        local.post(
            "/api/v1/staff/kim/revoke",
            json={"purposes": ["service"], "reason": "done"},
            headers=officer,
        ),
        local.put(
            "/api/v1/staff/kim/role", json={"role": "auditor", "reason": "moved"}, headers=officer
        ),
        *(
            local.post("/api/v1/auth/login", json={"username": "kim", "password": "nope-nope"})
            for _ in range(engine.settings.auth.lockout_threshold)
        ),
        local.post("/api/v1/staff/kim/unlock", json={"reason": "called"}, headers=officer),
        local.post("/api/v1/staff/kim/password-reset", json={}, headers=officer),
        local.post(
            "/api/v1/staff/kim/revoke", json={"account": True, "reason": "left"}, headers=officer
        ),
        local.post("/api/v1/auth/logout", headers=officer),
    ]
    assert all(call.status_code < 500 for call in calls), [c.text for c in calls]
    events = [event for event in engine.events(limit=500) if event.id > first]
    assert {event.action for event in events} >= {
        "collect",
        "view",
        "lookup",
        "withdraw_consent",
        "accomplished",
        "staff_create",
        "staff_grant",
        "staff_revoke",
        "staff_role_change",
        "staff_unlock",
        "staff_password_reset",
        "password_change",
        "login",
        "logout",
    }
    assert {event.outcome for event in events} == {"allowed", "denied"}
    without = [(e.action, e.outcome) for e in events if e.id > marker and e.source_ip is None]
    assert without == []
    assert {event.source_ip for event in events if event.id > marker} == {"127.0.0.1"}
