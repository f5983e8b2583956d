"""Requests through the engine: holds in use(), phones, the log, and what is stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from haechi import Engine
from haechi.engine import SYSTEM
from haechi.errors import InvalidInput
from haechi.storage.tables import audit_events
from haechi.web import render_export
from tests.conftest import Database, raw_storage
from tests.rights.support import collect, refused_use

SOURCE = "198.51.100.7"


def verified(engine: Engine, **asked: object) -> str:
    receipt = engine.submit_request(source_ip=SOURCE, **asked)  # type: ignore[arg-type]
    assert receipt.code_mail is not None
    engine.verify_request_code(
        receipt.request_id,
        status_token=receipt.status_token,
        code=receipt.code_mail.code,
        source_ip=SOURCE,
    )
    return receipt.request_id


def test_a_pending_correction_holds_use_until_the_request_closes(
    engine: Engine, person: dict[str, str]
) -> None:
    """It refuses use() with HELD while a correction is pending, and lifts it on refusal."""
    subject_id = collect(engine, person)
    assert engine.use(actor=SYSTEM, subject_id=subject_id, purpose="service")
    request_id = verified(
        engine, kind="correction", email=person["email"], corrections={"title": "과장"}
    )
    assert refused_use(engine, subject_id, "service") == "HELD"
    engine.start_request(request_id, actor=SYSTEM)
    assert refused_use(engine, subject_id, "service") == "HELD"
    engine.refuse_request(request_id, reason="LAW_REQUIRES", actor=SYSTEM)
    assert engine.use(actor=SYSTEM, subject_id=subject_id, purpose="service")["title"] == "대리"


def test_an_unverified_request_holds_nothing(engine: Engine, person: dict[str, str]) -> None:
    """It holds no data on a request nobody verified: typing an address freezes nothing."""
    subject_id = collect(engine, person)
    engine.submit_request(kind="deletion", email=person["email"], source_ip=SOURCE)
    assert engine.use(actor=SYSTEM, subject_id=subject_id, purpose="service")


def test_a_phone_request_mails_the_code_to_the_email_on_file(
    engine: Engine, person: dict[str, str]
) -> None:
    """It finds the person by phone and sends the code to their email, never to the phone."""
    collect(engine, person)
    receipt = engine.submit_request(kind="access", phone="+82 10 2345 6789", source_ip=SOURCE)
    assert receipt.code_mail is not None
    assert receipt.code_mail.address == person["email"]


def test_a_shared_phone_mails_nobody(engine: Engine, person: dict[str, str]) -> None:
    """It treats a phone two people share as unknown: no code goes to either."""
    collect(engine, person)
    collect(engine, {**person, "email": "colleague@example.kr", "name": "이서연"})
    receipt = engine.submit_request(kind="access", phone=person["contact"], source_ip=SOURCE)
    assert receipt.code_mail is None


def test_every_step_is_an_event_naming_the_request(engine: Engine, person: dict[str, str]) -> None:
    """It logs each step with the request id, kind, actor and outcome, and no address."""
    collect(engine, person)
    request_id = verified(engine, kind="access", email=person["email"])
    engine.complete_request(request_id, delivery="post", actor=SYSTEM)
    with engine.database.connect() as connection:
        events = connection.execute(
            select(audit_events).where(audit_events.c.action.like("request_%"))
        ).all()
        exported = connection.execute(
            select(audit_events).where(audit_events.c.action == "rights_export")
        ).all()
    steps = [(event.action, event.actor, event.outcome) for event in events]
    assert ("request_receive", "public", "allowed") in steps
    assert ("request_verify", "public", "allowed") in steps
    assert ("request_complete", "system", "allowed") in steps
    assert all(event.reason == f"rights_request {request_id} access" for event in events)
    assert [json.loads(event.items) for event in exported] == [sorted(person)]
    for event in events:
        assert person["email"] not in str(tuple(event))


def test_an_unknown_address_is_kept_nowhere_in_the_clear(
    engine: Engine, person: dict[str, str], database: Database
) -> None:
    """It keeps neither a typed address nor a code in any column, file or dump."""
    collect(engine, person)
    unknown = engine.submit_request(kind="access", email="stranger@example.org", source_ip=SOURCE)
    known = engine.submit_request(kind="access", email=person["email"], source_ip=SOURCE)
    assert unknown.code_mail is None
    assert known.code_mail is not None
    stored = raw_storage(database)
    assert b"stranger@example.org" not in stored
    assert person["email"].encode() not in stored
    assert known.status_token.encode() not in stored


@pytest.mark.parametrize(
    "asked",
    [
        {"kind": "access", "email": "a\x00b@example.kr"},
        {"kind": "access", "email": "\ud800@example.kr"},
        {"kind": "access", "email": "x" * 10_000},
        {"kind": "access", "phone": "０１０-２３４５-６７８９" + "\u202e"},
        {"kind": "lottery", "email": "a@example.kr"},
        {"kind": "access", "email": "a@example.kr", "phone": "010-2345-6789"},
        {"kind": "suspension", "email": "a@example.kr"},
        {"kind": "access", "email": "a@example.kr", "purposes": ["<script>"]},
        {"kind": "correction", "email": "a@example.kr", "corrections": {"secret_item": "x"}},
    ],
)
def test_bad_requests_are_refused_naming_fields_only(
    engine: Engine, asked: dict[str, object]
) -> None:
    """It refuses malformed requests with the field, never repeating the value."""
    with pytest.raises(InvalidInput) as refused:
        engine.submit_request(source_ip=SOURCE, **asked)  # type: ignore[arg-type]
    text = str(refused.value) + repr(refused.value.faults)
    for value in ("<script>", "secret_item", "lottery", "a@example.kr"):
        assert value not in text


def test_the_readable_export_is_in_korean(engine: Engine, person: dict[str, str]) -> None:
    """It renders the access answer as a Korean page with the policy's labels."""
    subject_id = collect(engine, person)
    page = render_export(
        engine.policy.policy, engine.export_subject(subject_id, actor=SYSTEM), lang="ko"
    )
    assert "귀하의 정보에 접근한 기록" in page
    assert "재화 및 서비스 제공" in page
    assert person["name"] in page


def test_a_corrected_email_no_longer_finds_the_person(
    engine: Engine, person: dict[str, str]
) -> None:
    """It drops the old address's digest once no data holds it: it may be someone else's next."""
    subject_id = collect(engine, person)
    new_email = "minji.kim@newmail.example.kr"
    request_id = verified(
        engine, kind="correction", email=person["email"], corrections={"email": new_email}
    )
    engine.start_request(request_id, actor=SYSTEM)
    engine.complete_request(request_id, actor=SYSTEM)
    assert engine.find_subject(actor=SYSTEM, kind="email", value=new_email) == subject_id
    assert engine.find_subject(actor=SYSTEM, kind="email", value=person["email"]) is None
    # The phone still held stays findable.
    assert engine.find_subject(actor=SYSTEM, kind="phone", value=person["contact"]) == subject_id
