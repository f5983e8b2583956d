"""Rate limits over HTTP: one-time codes, their resending, staff logins, the public forms.

Each cap is hit through the surface a person or an attacker would use, and the answer
past it is a 429 with its code and a Retry-After (JSON for the API, a page for the
web), or a lockout for a staff account. The caps count in the database, so every
server shares them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app
from haechi.config import MailSettings
from haechi.mail import SmtpNotifier
from haechi.rights.complaints import INTAKE_PER_SOURCE_PER_HOUR
from tests.access.staff_helpers import NEW_PASSWORD, add_and_login
from tests.conftest import PERSON
from tests.rights.support import Inbox, code_of, collect, inbox

__all__ = ["inbox"]

BASE = "http://127.0.0.1"


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(
        create_app(engine=engine),
        raise_server_exceptions=False,
        client=("127.0.0.1", 50000),
        base_url=BASE,
    ) as test:
        yield test


def ask(client: TestClient, email: str) -> Any:
    return client.post("/api/v1/public/requests", json={"kind": "access", "email": email})


def assert_limited(response: Any) -> None:
    """A 429 JSON answer with the code, the wait, and nothing of the request in it."""
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "RATE_LIMITED"
    assert response.headers["Retry-After"] == "3600"
    assert "@" not in response.text


def test_wrong_codes_lock_the_code_and_resending_is_capped(
    engine: Engine, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It refuses even the right code after five wrong tries, and a sixth code in the hour."""
    mailbox, port = inbox
    notifier = SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=port))
    app = create_app(engine=engine, notifier=notifier)
    collect(engine, person)
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000)) as client:
        receipt = ask(client, person["email"]).json()
        path = f"/api/v1/public/requests/{receipt['request_id']}"
        token = {"X-Status-Token": receipt["status_token"]}
        code = code_of(mailbox.to(person["email"])[-1])
        wrong = "000000" if code != "000000" else "111111"

        def verify(sent: str) -> Any:
            return client.post(f"{path}/verify", json={"code": sent}, headers=token)

        assert [verify(wrong).json()["code"] for _ in range(5)] == ["CODE_WRONG"] * 5
        assert verify(code).json()["code"] == "CODE_EXHAUSTED"
        resent = [client.post(f"{path}/code", headers=token) for _ in range(5)]
        assert [answer.status_code for answer in resent[:4]] == [202] * 4
        assert_limited(resent[4])
        # The newest code came with its own tries: the lock was the exhausted code's.
        assert len(mailbox.to(person["email"])) == 5
        fresh = code_of(mailbox.to(person["email"])[-1])
        assert verify(fresh).json()["state"] == "verified"


def test_codes_are_capped_per_source_across_addresses(engine: Engine, client: TestClient) -> None:
    """It refuses the 21st request from one address within the hour, and audits the refusal."""
    rules = engine.request_rules
    answers = [ask(client, f"person{n}@example.kr") for n in range(rules.codes_per_source_hour + 1)]
    assert [answer.status_code for answer in answers[:-1]] == [202] * rules.codes_per_source_hour
    assert_limited(answers[-1])
    refused = [
        event
        for event in engine.events(limit=50)
        if event.action == "request_receive" and event.outcome == "denied"
    ]
    assert [(event.code, event.source_ip) for event in refused] == [("RATE_LIMITED", "127.0.0.1")]
    other = TestClient(client.app, raise_server_exceptions=False, client=("127.0.0.2", 50000))
    assert ask(other, "person0@example.kr").status_code == 202


def test_staff_logins_lock_the_account_until_the_officer_unlocks(
    engine: Engine, client: TestClient
) -> None:
    """It locks an account at the fifth wrong password: the right one is then refused too.

    Every wrong password answers 401 alike, the one that locks included: only the
    right password learns of the lock.
    """
    add_and_login(engine, "kim", "handler", "service")
    officer, _ = add_and_login(engine, "officer", "privacy_officer")
    threshold = engine.settings.auth.lockout_threshold

    def login(password: str) -> Any:
        return client.post("/api/v1/auth/login", json={"username": "kim", "password": password})

    wrong = [login("not the password") for _ in range(threshold)]
    assert [(answer.status_code, answer.json()["code"]) for answer in wrong] == [
        (401, "BAD_PASSWORD")
    ] * threshold
    assert len({answer.text for answer in wrong}) == 1
    after = login("not the password")
    assert (after.status_code, after.text) == (401, wrong[0].text)
    locked = login(NEW_PASSWORD)
    assert (locked.status_code, locked.json()["code"]) == (403, "LOCKED")
    assert "token" not in locked.json()
    unlocked = client.post(
        "/api/v1/staff/kim/unlock",
        json={"reason": "called the officer"},
        headers={"Authorization": f"Bearer {officer}"},
    )
    assert unlocked.status_code == 204
    assert login(NEW_PASSWORD).status_code == 200


def test_the_complaint_intake_says_when_to_come_back(engine: Engine, client: TestClient) -> None:
    """It answers the intake past its hourly cap with 429 and a Retry-After."""
    body = {
        "items": PERSON,
        "description": "a complaint",
        "consent": {"granted": True, "method": "web-form"},
    }
    for _ in range(INTAKE_PER_SOURCE_PER_HOUR):
        assert client.post("/api/v1/public/complaints", json=body).status_code == 202
    assert_limited(client.post("/api/v1/public/complaints", json=body))


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_the_web_forms_answer_a_429_page_past_their_caps(
    engine: Engine, client: TestClient, person: dict[str, str]
) -> None:
    """It shows the request and complaint forms' refusal as a 429 page with a Retry-After."""
    collect(engine, person)
    token = csrf(client, "/privacy/requests/access")
    sent = {"contact": person["email"], "csrf_token": token}
    answers = [
        client.post("/privacy/requests/access?lang=en", data=sent)
        for _ in range(engine.request_rules.codes_per_address_hour + 1)
    ]
    assert [answer.status_code for answer in answers[:-1]] == [202] * (len(answers) - 1)
    limited = answers[-1]
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "600"
    assert "Too many attempts" in limited.text
    assert person["email"] not in limited.text.replace(f'value="{person["email"]}"', "")
    token = csrf(client, "/privacy/complaints")
    form = {
        **{f"items.{name}": value for name, value in PERSON.items()},
        "description": "a complaint",
        "consent": "on",
        "csrf_token": token,
    }
    filed = [
        client.post("/privacy/complaints?lang=en", data=form)
        for _ in range(INTAKE_PER_SOURCE_PER_HOUR + 1)
    ]
    assert [answer.status_code for answer in filed[:-1]] == [202] * INTAKE_PER_SOURCE_PER_HOUR
    assert filed[-1].status_code == 429
    assert filed[-1].headers["Retry-After"] == "600"
