"""Requests staff enter: received documents and a representative's proof, sealed."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haechi import Engine
from haechi.engine import SYSTEM
from haechi.errors import NotFound
from haechi.storage.rights_tables import rights_documents, rights_request_keys
from haechi.storage.tables import audit_events
from tests.conftest import Database, FakeClock, raw_storage
from tests.rights.support import Inbox, client, collect, inbox, staff, text_of

__all__ = ["client", "inbox"]

LETTER = "위임장 원본 스캔: 대리인 박서준, 본인 김민지".encode()
DELEGATE = "seojun.park@example.kr"


def attachment(kind: str, content: bytes) -> dict[str, str]:
    return {
        "kind": kind,
        "media_type": "application/pdf",
        "content": base64.b64encode(content).decode(),
    }


def delegate_request(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "access",
        "channel": "document",
        "email": "minji.kim@example.kr",
        "lang": "ko",
        "requester": "delegate",
        "representative": {"name": "박서준", "relation": "위임"},
        "reply_to": DELEGATE,
        "attachments": [
            attachment("received", b"request form"),
            attachment("power_of_attorney", LETTER),
        ],
    }
    body.update(changes)
    return body


def test_a_delegates_request_with_its_power_of_attorney(
    engine: Engine,
    client: TestClient,
    inbox: tuple[Inbox, int],
    person: dict[str, str],
    database: Database,
) -> None:
    """It seals the power of attorney, records who acts for whom, and answers the delegate."""
    mailbox, _ = inbox
    collect(engine, person)
    officer = staff(engine, "officer", "privacy_officer")
    entered = client.post("/api/v1/requests", json=delegate_request(), headers=officer)
    assert entered.status_code == 201, entered.text
    shown = entered.json()
    assert shown["requester"] == "delegate"
    assert shown["state"] == "received"
    kinds = sorted(document["kind"] for document in shown["documents"])
    assert kinds == ["contact", "power_of_attorney", "received", "representative"]
    path = f"/api/v1/requests/{shown['id']}"
    verified = client.post(f"{path}/verify", json={"method": "id_document"}, headers=officer)
    assert verified.status_code == 200, verified.text
    assert verified.json()["verification_method"] == "id_document"
    done = client.post(f"{path}/complete", json={"delivery": "mail"}, headers=officer)
    assert done.json()["state"] == "completed"
    [answer] = mailbox.to(DELEGATE)
    assert any(part.get_filename().endswith(".json") for part in answer.iter_attachments())
    assert LETTER not in raw_storage(database)
    assert "박서준".encode() not in raw_storage(database)


def test_a_representative_without_proof_is_refused(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It refuses a delegate's request that attaches no power of attorney."""
    collect(engine, person)
    officer = staff(engine, "officer", "privacy_officer")
    body = delegate_request(attachments=[attachment("received", b"request form")])
    refused = client.post("/api/v1/requests", json=body, headers=officer)
    assert refused.status_code == 422
    assert refused.json()["code"] == "PROOF_REQUIRED"


def test_documents_are_shredded_with_the_requests_retention(
    engine: Engine,
    client: TestClient,
    inbox: tuple[Inbox, int],
    person: dict[str, str],
    clock: FakeClock,
) -> None:
    """It keeps a closed request's documents three years, then shreds key and documents."""
    collect(engine, person)
    officer = staff(engine, "officer", "privacy_officer")
    shown = client.post("/api/v1/requests", json=delegate_request(), headers=officer).json()
    path = f"/api/v1/requests/{shown['id']}"
    client.post(f"{path}/verify", json={"method": "id_document"}, headers=officer)
    client.post(f"{path}/complete", json={"delivery": "post"}, headers=officer)
    clock.advance(days=365 * 3 - 1)
    assert engine.purge_requests() == 0
    clock.advance(days=2)
    assert engine.purge_requests() == 1
    with engine.database.connect() as connection:
        assert connection.execute(select(rights_request_keys)).all() == []
        assert connection.execute(select(rights_documents)).all() == []
    with pytest.raises(NotFound):
        engine.request(shown["id"], actor=SYSTEM)


def test_postponement_and_refusal_are_mailed_with_how_to_object(
    engine: Engine,
    client: TestClient,
    inbox: tuple[Inbox, int],
    person: dict[str, str],
    clock: FakeClock,
) -> None:
    """It tells the person the new date, then the refusal's reason and where to object."""
    mailbox, _ = inbox
    collect(engine, person)
    officer = staff(engine, "officer", "privacy_officer")
    body = {"kind": "access", "channel": "email", "email": person["email"], "lang": "en"}
    shown = client.post("/api/v1/requests", json=body, headers=officer).json()
    path = f"/api/v1/requests/{shown['id']}"
    client.post(f"{path}/verify", json={"method": "reply_from_address"}, headers=officer)
    new_due = (clock.now + timedelta(days=20)).isoformat()
    postponed = client.post(
        f"{path}/postpone", json={"reason": "LARGE_VOLUME", "due_at": new_due}, headers=officer
    )
    assert postponed.status_code == 200, postponed.text
    assert postponed.json()["due_at"] == new_due
    told = text_of(mailbox.to(person["email"])[-1])
    assert "LARGE_VOLUME" in told
    assert new_due[:10] in told
    refused = client.post(
        f"{path}/refuse", json={"reason": "OTHERS_LIFE_OR_PROPERTY", "note": "x"}, headers=officer
    )
    assert refused.json()["state"] == "refused"
    answer = text_of(mailbox.to(person["email"])[-1])
    assert "OTHERS_LIFE_OR_PROPERTY" in answer
    assert engine.policy.policy.privacy_officer.email in answer
    assert "https://www.kopico.go.kr" in answer
    assert person["name"] not in answer


def test_a_handler_enters_requests_only_for_their_purposes(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It refuses a handler of another purpose, records the refusal, and lets the right one in."""
    collect(engine, person)
    body = {"kind": "access", "channel": "fax", "email": person["email"]}
    marketer = staff(engine, "marketer", "handler", "marketing")
    servicer = staff(engine, "servicer", "handler", "service")
    refused = client.post("/api/v1/requests", json=body, headers=marketer)
    assert refused.status_code == 403
    assert client.post("/api/v1/requests", json=body, headers=servicer).status_code == 201
    with engine.database.connect() as connection:
        denied = connection.execute(
            select(audit_events.c.actor).where(
                audit_events.c.action == "request_receive", audit_events.c.outcome == "denied"
            )
        ).scalars()
        assert list(denied) == ["marketer"]
