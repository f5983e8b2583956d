"""Requests end to end through the HTTP API, with mail really received over SMTP."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from haechi import Engine
from haechi.engine import SYSTEM
from tests.conftest import FakeClock
from tests.rights.support import (
    Inbox,
    client,
    code_of,
    collect,
    inbox,
    refused_use,
    staff,
    text_of,
)

__all__ = ["client", "inbox"]

EMAIL = "minji.kim@example.kr"


def ask(test: TestClient, **body: Any) -> dict[str, str]:
    answer = test.post("/api/v1/public/requests", json={"lang": "en", **body})
    assert answer.status_code == 202, answer.text
    receipt: dict[str, str] = answer.json()
    return receipt


def verified(test: TestClient, mailbox: Inbox, **body: Any) -> dict[str, str]:
    """A web request made and verified with the code the mail brought."""
    receipt = ask(test, email=EMAIL, **body)
    code = code_of(mailbox.to(EMAIL)[-1])
    answer = test.post(
        f"/api/v1/public/requests/{receipt['request_id']}/verify",
        json={"code": code},
        headers={"X-Status-Token": receipt["status_token"]},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "verified"
    return receipt


def complete(test: TestClient, officer: dict[str, str], request_id: str) -> dict[str, Any]:
    answer = test.post(
        f"/api/v1/requests/{request_id}/complete", json={"delivery": "mail"}, headers=officer
    )
    assert answer.status_code == 200, answer.text
    shown: dict[str, Any] = answer.json()
    return shown


def test_access_request_mails_the_export_of_everything_held(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It answers an access request with the person's data, consents and who read it."""
    mailbox, _ = inbox
    subject_id = collect(engine, person)
    engine.use(actor=SYSTEM, subject_id=subject_id, purpose="service", items=["name"])
    officer = staff(engine, "officer", "privacy_officer")
    receipt = verified(client, mailbox, kind="access")
    shown = complete(client, officer, receipt["request_id"])
    assert shown["state"] == "completed"
    answer = mailbox.to(EMAIL)[-1]
    files = {part.get_filename(): part for part in answer.iter_attachments()}
    data = json.loads(files[f"export-{receipt['request_id']}.json"].get_content())
    [held] = data["collections"]
    assert held["items"]["name"] == person["name"]
    assert data["consents"][0]["policy_version"] == engine.policy.version_id
    assert any(
        access["action"] == "view" and access["purpose"] == "service"
        for access in data["accessed_by"]
    )
    page = files[f"export-{receipt['request_id']}.html"].get_content()
    assert "Who accessed your data" in page
    assert person["name"] in page
    steps = [step["step"] for step in shown["history"]]
    assert steps[:2] == ["receive", "verify"]
    assert "complete" in steps
    assert (
        client.get(
            f"/api/v1/public/requests/{receipt['request_id']}",
            headers={"X-Status-Token": receipt["status_token"]},
        ).json()["state"]
        == "completed"
    )


def test_deletion_request_holds_then_destroys_with_a_certificate(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It holds the data once verified (use() refuses HELD), then crypto-shreds it."""
    mailbox, _ = inbox
    subject_id = collect(engine, person)
    officer = staff(engine, "officer", "privacy_officer")
    receipt = verified(client, mailbox, kind="deletion", purposes=["service"])
    assert refused_use(engine, subject_id, "service") == "HELD"
    shown = complete(client, officer, receipt["request_id"])
    assert shown["state"] == "completed"
    [destroyed] = shown["outcome"]["destroyed"]
    assert destroyed["certificate_id"]
    assert refused_use(engine, subject_id, "service") == "DESTROYED"
    assert destroyed["certificate_id"] in text_of(mailbox.to(EMAIL)[-1])


def test_deletion_under_a_legal_hold_is_refused_naming_the_statute(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It refuses to delete what a statute keeps, saying which and until when."""
    mailbox, _ = inbox
    collect(engine, person, purpose="complaints")
    officer = staff(engine, "officer", "privacy_officer")
    receipt = verified(client, mailbox, kind="deletion", purposes=["complaints"])
    shown = complete(client, officer, receipt["request_id"])
    assert shown["state"] == "refused"
    assert shown["refusal_reason"] == "LEGAL_HOLD"
    assert shown["refusal_until"].startswith("2030")  # a year's retention, then three kept
    answer = text_of(mailbox.to(EMAIL)[-1])
    assert "Electronic Commerce Consumer Protection Act" in answer
    assert "2030" in answer


def test_correction_reseals_under_a_fresh_key(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It applies the new values, readable afterwards, under the next key version."""
    mailbox, _ = inbox
    subject_id = collect(engine, person)
    officer = staff(engine, "officer", "privacy_officer")
    receipt = verified(
        client, mailbox, kind="correction", purposes=["service"], corrections={"title": "과장"}
    )
    shown = complete(client, officer, receipt["request_id"])
    assert shown["outcome"]["corrected"][0]["items"] == ["title"]
    values = engine.use(actor=SYSTEM, subject_id=subject_id, purpose="service")
    assert values["title"] == "과장"
    assert values["name"] == person["name"]


def test_suspension_then_lift(
    engine: Engine, client: TestClient, inbox: tuple[Inbox, int], person: dict[str, str]
) -> None:
    """It suspends the chosen purpose until the suspension is lifted."""
    mailbox, _ = inbox
    subject_id = collect(engine, person)
    collect(engine, person, purpose="marketing")
    officer = staff(engine, "officer", "privacy_officer")
    receipt = verified(client, mailbox, kind="suspension", purposes=["marketing"])
    complete(client, officer, receipt["request_id"])
    assert refused_use(engine, subject_id, "marketing") == "SUSPENDED"
    assert engine.use(actor=SYSTEM, subject_id=subject_id, purpose="service")
    lifted = client.post(f"/api/v1/requests/{receipt['request_id']}/lift", headers=officer)
    assert lifted.status_code == 200, lifted.text
    assert engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing")


def test_withdrawal_makes_the_collection_due_at_once(
    engine: Engine,
    client: TestClient,
    inbox: tuple[Inbox, int],
    person: dict[str, str],
    clock: FakeClock,
) -> None:
    """It stops use of the purpose at once and the next sweep destroys it."""
    mailbox, _ = inbox
    subject_id = collect(engine, person, purpose="marketing")
    officer = staff(engine, "officer", "privacy_officer")
    receipt = verified(client, mailbox, kind="withdrawal", purposes=["marketing"])
    complete(client, officer, receipt["request_id"])
    assert refused_use(engine, subject_id, "marketing") == "NO_CONSENT"
    clock.advance(days=6)
    engine.sweep()
    assert refused_use(engine, subject_id, "marketing") == "DESTROYED"
