"""Complaints over HTTP: the public intake, the staff queue, assignment and a mailed result."""

from __future__ import annotations

from collections.abc import Iterator
from email.header import decode_header, make_header

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haechi import Engine, Settings
from haechi.api import create_app
from haechi.config import MailSettings
from haechi.crypto.keys import LocalKeyProvider
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.tables import audit_events, collections
from tests.access.staff_helpers import add_and_login
from tests.audit import test_monitor
from tests.audit.test_monitor import Inbox
from tests.conftest import PERSON, Database, FakeClock

PETITION = "The parcel arrived broken: Canary-Http-Petition-3141"
RESULT = "Canary-Http-Result-2718: a replacement ships today"
CONSENT = {"granted": True, "method": "web-form", "text_hash": "ab" * 32}
STRANGER = {**PERSON, "email": "nobody.known@example.kr", "contact": "010-9999-0000"}


# The aiosmtpd inbox of the alert mail tests.
smtp = test_monitor.smtp


@pytest.fixture
def mail_engine(
    database: Database,
    keys: LocalKeyProvider,
    clock: FakeClock,
    settings: Settings,
    smtp: tuple[Inbox, int],
) -> Engine:
    mailing = settings.model_copy(
        update={"mail": MailSettings(smtp_host="127.0.0.1", smtp_port=smtp[1])}
    )
    return Engine(
        database=database.engine,
        policy=parse_policy(demo_policy_text()),
        keys=keys,
        settings=mailing,
        clock=clock,
    )


def client_for(engine: Engine) -> TestClient:
    return TestClient(
        create_app(engine=engine), raise_server_exceptions=False, client=("127.0.0.1", 50000)
    )


@pytest.fixture
def client(mail_engine: Engine) -> Iterator[TestClient]:
    with client_for(mail_engine) as client:
        yield client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def file_complaint(client: TestClient, person: dict[str, str] = PERSON) -> dict[str, str]:
    response = client.post(
        "/api/v1/public/complaints",
        json={"items": person, "description": PETITION, "consent": CONSENT},
    )
    assert response.status_code == 202, response.text
    body: dict[str, str] = response.json()
    return body


def test_public_intake_creates_a_complaints_collection(
    client: TestClient, mail_engine: Engine, database: Database
) -> None:
    """It answers 202 with an id and a status token, and collects under 'complaints'."""
    body = file_complaint(client)
    assert set(body) == {"complaint_id", "status_token"}
    followed = client.get(
        f"/api/v1/public/complaints/{body['complaint_id']}",
        headers={"X-Status-Token": body["status_token"]},
    )
    assert (followed.status_code, followed.json()["state"]) == (200, "received")
    wrong = client.get(
        f"/api/v1/public/complaints/{body['complaint_id']}", headers={"X-Status-Token": "hcc_x"}
    )
    assert wrong.status_code == 404
    with database.engine.connect() as connection:
        purposes = list(connection.execute(select(collections.c.purpose)).scalars())
        actors = set(connection.execute(select(audit_events.c.actor)).scalars())
    assert purposes == ["complaints"]
    assert actors == {"public"}


def test_known_and_unknown_petitioners_are_answered_alike(client: TestClient) -> None:
    """It gives a known person and a stranger the same status and the same body shape."""
    file_complaint(client)
    known = client.post(
        "/api/v1/public/complaints",
        json={"items": PERSON, "description": PETITION, "consent": CONSENT},
    )
    unknown = client.post(
        "/api/v1/public/complaints",
        json={"items": STRANGER, "description": PETITION, "consent": CONSENT},
    )
    assert known.status_code == unknown.status_code == 202
    assert set(known.json()) == set(unknown.json())
    assert known.headers.keys() == unknown.headers.keys()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": "x" * 4001}, "description"),
        ({"description": "bad\x00text"}, "description"),
        ({"consent": None}, "consent"),
        ({"surprise": "field"}, "surprise"),
    ],
)
def test_public_intake_bounds_every_field(
    client: TestClient, change: dict[str, object], field: str
) -> None:
    """It refuses an oversized, unclean or incomplete intake before any work, unquoted."""
    body: dict[str, object] = {"items": PERSON, "description": PETITION, "consent": CONSENT}
    body.update(change)
    response = client.post("/api/v1/public/complaints", json=body)
    assert response.status_code in (400, 422), response.text
    assert "x" * 100 not in response.text
    assert "bad" not in response.text


def test_public_intake_is_rate_limited(client: TestClient) -> None:
    """It answers 429 once one address has filed ten complaints within the hour."""
    for _ in range(10):
        file_complaint(client)
    limited = client.post(
        "/api/v1/public/complaints",
        json={"items": PERSON, "description": PETITION, "consent": CONSENT},
    )
    assert (limited.status_code, limited.json()["code"]) == (429, "RATE_LIMITED")


def test_assigning_to_a_handler_without_the_grant_is_refused(
    client: TestClient, mail_engine: Engine
) -> None:
    """It answers 409 to an assignment to a handler not granted complaints."""
    officer, _ = add_and_login(mail_engine, "park", "privacy_officer")
    add_and_login(mail_engine, "kim", "handler", "service")
    complaint_id = file_complaint(client)["complaint_id"]
    refused = client.post(
        f"/api/v1/complaints/{complaint_id}/assign",
        json={"assignee": "kim"},
        headers=bearer(officer),
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "ASSIGNEE_NOT_GRANTED")
    assert "kim" not in refused.text


def test_a_complaint_is_handled_and_its_result_mailed(
    client: TestClient, mail_engine: Engine, smtp: tuple[Inbox, int]
) -> None:
    """It assigns, replies, confirms the address and mails the result over real SMTP."""
    inbox, _ = smtp
    officer, _ = add_and_login(mail_engine, "park", "privacy_officer")
    lee, _ = add_and_login(mail_engine, "lee", "handler", "complaints")
    auditor, _ = add_and_login(mail_engine, "choi", "auditor")
    complaint_id = file_complaint(client)["complaint_id"]
    base = f"/api/v1/complaints/{complaint_id}"
    steps = [
        (officer, "assign", {"assignee": "lee"}, 204),
        (lee, "messages", {"text": "We are looking into it."}, 201),
        (lee, "verify-contact", {"method": "phone"}, 204),
        (lee, "close", {"result": RESULT, "delivery": "mail"}, 200),
    ]
    for secret, step, body, expected in steps:
        response = client.post(f"{base}/{step}", json=body, headers=bearer(secret))
        assert response.status_code == expected, response.text
    closed = response.json()
    assert (closed["state"], closed["delivery"]) == ("closed", "mail")
    [message] = inbox.messages
    assert message["To"] == PERSON["email"]
    assert complaint_id in str(make_header(decode_header(message["Subject"])))
    assert RESULT in message.get_payload(decode=True).decode()
    shown = client.get(base, headers=bearer(lee)).json()
    assert [m["kind"] for m in shown["messages"]] == ["petition", "reply", "result"]
    assert shown["messages"][0]["text"] == PETITION
    audited = client.get(base, headers=bearer(auditor)).json()
    assert [m["text"] for m in audited["messages"]] == [None, None, None]
    queue = client.get("/api/v1/complaints?state=closed", headers=bearer(auditor))
    assert [c["id"] for c in queue.json()] == [complaint_id]


def test_a_handler_without_the_grant_cannot_read_the_queue(
    client: TestClient, mail_engine: Engine
) -> None:
    """It refuses the queue and a thread to a handler not granted complaints."""
    kim, _ = add_and_login(mail_engine, "kim", "handler", "service")
    complaint_id = file_complaint(client)["complaint_id"]
    assert client.get("/api/v1/complaints", headers=bearer(kim)).status_code == 403
    shown = client.get(f"/api/v1/complaints/{complaint_id}", headers=bearer(kim))
    assert shown.status_code == 403
    assert PETITION not in shown.text
