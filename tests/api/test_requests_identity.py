"""Before verification a request tells nothing about who is on file; nothing skips the code."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from haechi import Engine
from haechi.storage.rights_tables import rights_codes
from tests.conftest import FakeClock
from tests.rights.support import Inbox, client, code_of, collect, inbox, staff

__all__ = ["client", "inbox"]

KNOWN = "minji.kim@example.kr"
UNKNOWN = "nobody.here@example.kr"


def ask(test: TestClient, email: str, kind: str = "access") -> Any:
    return test.post("/api/v1/public/requests", json={"kind": kind, "email": email, "lang": "en"})


def verify(test: TestClient, receipt: dict[str, str], code: str) -> Any:
    return test.post(
        f"/api/v1/public/requests/{receipt['request_id']}/verify",
        json={"code": code},
        headers={"X-Status-Token": receipt["status_token"]},
    )


def status(test: TestClient, receipt: dict[str, str]) -> Any:
    return test.get(
        f"/api/v1/public/requests/{receipt['request_id']}",
        headers={"X-Status-Token": receipt["status_token"]},
    )


def shape(body: Any) -> Any:
    """The keys and value types of a JSON body, values left out."""
    if isinstance(body, dict):
        return {key: shape(value) for key, value in body.items()}
    return type(body).__name__


def test_known_and_unknown_addresses_are_answered_alike(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It gives the same status and body shape to both, and mails only the known one."""
    mailbox, _ = inbox
    collect(engine, person)
    known, unknown = ask(client, KNOWN), ask(client, UNKNOWN)
    assert known.status_code == unknown.status_code == 202
    assert shape(known.json()) == shape(unknown.json())
    assert len(known.json()["status_token"]) == len(unknown.json()["status_token"])
    assert len(mailbox.to(KNOWN)) == 1
    assert mailbox.to(UNKNOWN) == []
    known_status, unknown_status = status(client, known.json()), status(client, unknown.json())
    assert known_status.status_code == unknown_status.status_code == 200
    assert shape(known_status.json()) == shape(unknown_status.json())
    assert known_status.json()["state"] == unknown_status.json()["state"] == "received"
    wrong = verify(
        client, known.json(), "000000" if code_of(mailbox.to(KNOWN)[0]) != "000000" else "111111"
    )
    guess = verify(client, unknown.json(), "123456")
    assert wrong.status_code == guess.status_code == 422
    assert wrong.json() == guess.json()
    with engine.database.connect() as connection:
        # Codes are issued for both alike, and kept only as an HMAC.
        stored = connection.execute(select(rights_codes.c.code_hash)).scalars().all()
    assert len(stored) == 2
    assert all(len(digest) == 32 for digest in stored)


def test_a_code_has_five_tries_and_ten_minutes_then_a_new_one(
    engine: Engine,
    client: TestClient,
    inbox: tuple[Inbox, int],
    person: dict[str, str],
    clock: FakeClock,
) -> None:
    """It refuses the sixth try and an expired code; a new code works, the old one not."""
    mailbox, _ = inbox
    collect(engine, person)
    receipt = ask(client, KNOWN).json()
    code = code_of(mailbox.to(KNOWN)[-1])
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert verify(client, receipt, wrong).json()["code"] == "CODE_WRONG"
    assert verify(client, receipt, code).json()["code"] == "CODE_EXHAUSTED"
    renewed = client.post(
        f"/api/v1/public/requests/{receipt['request_id']}/code",
        headers={"X-Status-Token": receipt["status_token"]},
    )
    assert renewed.status_code == 202
    fresh = code_of(mailbox.to(KNOWN)[-1])
    clock.advance(minutes=11)
    assert verify(client, receipt, fresh).json()["code"] == "CODE_EXPIRED"
    client.post(
        f"/api/v1/public/requests/{receipt['request_id']}/code",
        headers={"X-Status-Token": receipt["status_token"]},
    )
    latest = code_of(mailbox.to(KNOWN)[-1])
    if latest != fresh:
        assert verify(client, receipt, fresh).json()["code"] == "CODE_WRONG"
    assert verify(client, receipt, latest).json()["state"] == "verified"


def test_no_path_skips_verification(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It keeps a duplicate, a re-sent and an officer-approved web request unverified."""
    mailbox, _ = inbox
    collect(engine, person)
    officer = staff(engine, "officer", "privacy_officer")
    first = ask(client, KNOWN, "deletion").json()
    assert verify(client, first, code_of(mailbox.to(KNOWN)[-1])).status_code == 200
    duplicate = ask(client, KNOWN, "deletion").json()
    assert status(client, duplicate).json()["state"] == "received"
    resent = client.post(
        f"/api/v1/public/requests/{duplicate['request_id']}/code",
        headers={"X-Status-Token": duplicate["status_token"]},
    )
    assert resent.status_code == 202
    assert status(client, duplicate).json()["state"] == "received"
    path = f"/api/v1/requests/{duplicate['request_id']}"
    approved = client.post(f"{path}/verify", json={"method": "id_document"}, headers=officer)
    assert approved.status_code == 409
    assert approved.json()["code"] == "WEB_NEEDS_CODE"
    assert client.post(f"{path}/start", headers=officer).status_code == 409
    completed = client.post(f"{path}/complete", json={"delivery": "post"}, headers=officer)
    assert completed.status_code == 409
    assert status(client, duplicate).json()["state"] == "received"


def test_codes_are_capped_per_address_alike_for_known_and_unknown(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It refuses the sixth code within an hour for an address, with 429, whoever it is."""
    collect(engine, person)
    for address in (KNOWN, UNKNOWN):
        answers = [ask(client, address).status_code for _ in range(6)]
        assert answers == [202] * 5 + [429]


def test_status_needs_its_token_in_a_header(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int]
) -> None:
    """It answers 404 to a wrong token, and never reads one from the URL."""
    receipt = ask(client, UNKNOWN).json()
    wrong = {"request_id": receipt["request_id"], "status_token": "x" * 43}
    assert status(client, wrong).status_code == 404
    in_url = client.get(
        f"/api/v1/public/requests/{receipt['request_id']}?status_token={receipt['status_token']}"
    )
    assert in_url.status_code == 422


def test_handlers_act_for_their_purposes_and_auditors_only_read(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It refuses a handler without the request's purpose and an auditor's steps."""
    mailbox, _ = inbox
    collect(engine, person)
    receipt = ask(client, KNOWN, "access").json()
    verify(client, receipt, code_of(mailbox.to(KNOWN)[-1]))
    path = f"/api/v1/requests/{receipt['request_id']}"
    other = staff(engine, "marketer", "handler", "marketing")
    auditor = staff(engine, "auditor", "auditor")
    granted = staff(engine, "servicer", "handler", "service")
    assert client.post(f"{path}/start", headers=other).status_code == 403
    assert client.get(path, headers=other).status_code == 403
    assert client.get(path, headers=auditor).status_code == 200
    assert client.post(f"{path}/start", headers=auditor).status_code == 403
    assert client.post(f"{path}/start", headers=granted).status_code == 200
    listed = client.get("/api/v1/requests", params={"state": "in_progress"}, headers=granted)
    assert [entry["id"] for entry in listed.json()] == [receipt["request_id"]]
    assert "due_at" in listed.json()[0]
