"""What the append-only log keeps: every decision, and never a client's text.

Every decision that reveals something about a person is an audit event, allowed or
not; the log names purposes and items by the policy's names only.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from haechi import AccessDenied, Actor, ConsentEvidence, Engine, NotFound
from haechi.audit.events import AuditEvent
from haechi.engine import SYSTEM
from haechi.errors import HaechiError, InvalidInput
from haechi.storage.tables import audit_events
from tests.conftest import Database, raw_storage

YES = ConsentEvidence(granted=True, method="web-form")
SERVICE = Actor(name="crm", kind="token", purposes=frozenset({"service"}))
MARKETING = Actor(name="ads", kind="token", purposes=frozenset({"marketing"}))
# 30 KB of client text, personal values included, that must be kept nowhere.
PROBE = ("minji.kim@example.kr 010-2345-6789 hunter2 " * 700)[:30_000]


@pytest.fixture
def collected(engine: Engine, person: dict[str, str]) -> tuple[str, str]:
    result = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    return result.subject_id, result.collection_id


def newest(engine: Engine) -> AuditEvent:
    return engine.events(limit=1)[0]


def every_logged_value(database: Database) -> str:
    with database.engine.connect() as connection:
        rows = connection.execute(select(audit_events)).all()
    return json.dumps([[str(value) for value in row] for row in rows], ensure_ascii=False)


def said(error: HaechiError) -> str:
    """Everything an error tells its caller."""
    return " ".join([str(error), error.message, *(str(fault) for fault in error.faults)])


@pytest.mark.parametrize("purpose", ["service", PROBE], ids=["declared", "undeclared"])
def test_an_undeclared_item_and_purpose_are_never_logged_nor_echoed(
    engine: Engine, database: Database, collected: tuple[str, str], purpose: str
) -> None:
    """It logs and echoes a refused use's undeclared names as counted, never their text."""
    subject_id, _ = collected
    with pytest.raises(AccessDenied) as refused:
        engine.use(actor=SERVICE, subject_id=subject_id, purpose=purpose, items=[PROBE, "name"])
    event = newest(engine)
    assert (event.outcome, event.subject_id) == ("denied", subject_id)
    assert event.purpose == ("service" if purpose == "service" else "<undeclared>")
    assert event.items == ["<undeclared:1>", "name"]
    assert PROBE[:40] not in every_logged_value(database)
    assert PROBE[:40] not in said(refused.value)
    assert PROBE[:40].encode() not in raw_storage(database)


def test_a_read_of_a_collection_is_an_event_allowed_or_denied(
    engine: Engine, collected: tuple[str, str]
) -> None:
    """It logs each read of a collection's metadata: allowed, refused, and not found."""
    subject_id, collection_id = collected
    assert engine.collection(collection_id, actor=SERVICE, source_ip="198.51.100.4").id
    event = newest(engine)
    assert (event.action, event.outcome, event.actor) == ("view_collection", "allowed", "crm")
    assert (event.subject_id, event.collection_id, event.purpose) == (
        subject_id,
        collection_id,
        "service",
    )
    assert event.source_ip == "198.51.100.4"
    with pytest.raises(AccessDenied):
        engine.collection(collection_id, actor=MARKETING)
    event = newest(engine)
    assert (event.action, event.outcome, event.code) == ("view_collection", "denied", "NO_GRANT")
    assert event.subject_id == subject_id


def test_a_collection_not_found_is_an_event_without_the_id_asked_for(
    engine: Engine, database: Database
) -> None:
    """It logs a miss, in a read and in a change, without keeping the client's id text."""
    with pytest.raises(NotFound):
        engine.collection(PROBE, actor=SERVICE)
    event = newest(engine)
    assert (event.action, event.outcome, event.code) == ("view_collection", "denied", "NOT_FOUND")
    assert event.collection_id is None
    with pytest.raises(NotFound) as missing:
        engine.suspend(PROBE, actor=SERVICE)
    event = newest(engine)
    assert (event.action, event.outcome, event.code) == ("suspend", "denied", "NOT_FOUND")
    assert PROBE[:40] not in every_logged_value(database)
    assert PROBE[:40] not in said(missing.value)


def test_a_download_without_a_reason_is_a_denied_event(
    engine: Engine, collected: tuple[str, str]
) -> None:
    """It refuses a download that gives no reason, and logs the refusal."""
    subject_id, _ = collected
    for reason in (None, "   "):
        with pytest.raises(InvalidInput) as refused:
            engine.use(
                actor=SERVICE,
                subject_id=subject_id,
                purpose="service",
                download=True,
                reason=reason,
            )
        assert refused.value.field == "reason"
        event = newest(engine)
        assert (event.action, event.outcome, event.code) == (
            "download",
            "denied",
            "REASON_REQUIRED",
        )
        assert (event.subject_id, event.purpose) == (subject_id, "service")


def test_a_reason_is_kept_but_bounded(
    engine: Engine, database: Database, collected: tuple[str, str]
) -> None:
    """It keeps a reason for review, and refuses (and logs) one longer than 500 characters."""
    subject_id, _ = collected
    kept = "ticket 118: " + "x" * 488
    engine.use(actor=SERVICE, subject_id=subject_id, purpose="service", download=True, reason=kept)
    assert newest(engine).reason == kept
    with pytest.raises(InvalidInput):
        engine.use(
            actor=SERVICE, subject_id=subject_id, purpose="service", download=True, reason=PROBE
        )
    event = newest(engine)
    assert (event.outcome, event.code, event.reason) == ("denied", "REASON_TOO_LONG", None)
    assert PROBE[:40] not in every_logged_value(database)


def test_a_refusal_before_reading_names_only_a_subject_that_exists(
    engine: Engine, database: Database
) -> None:
    """It logs a refused download of an unknown subject without the id asked for."""
    with pytest.raises(InvalidInput):
        engine.use(actor=SERVICE, subject_id=PROBE, purpose=PROBE, download=True)
    event = newest(engine)
    assert (event.subject_id, event.purpose, event.code) == (
        None,
        "<undeclared>",
        "REASON_REQUIRED",
    )
    assert PROBE[:40] not in every_logged_value(database)


@pytest.mark.parametrize("purpose", ["lottery_winners", "hold:lottery_winners"])
def test_a_name_shaped_undeclared_purpose_is_neither_logged_nor_echoed(
    engine: Engine, database: Database, person: dict[str, str], purpose: str
) -> None:
    """It records an ungranted, undeclared purpose as undeclared, even when name-shaped."""
    with pytest.raises(AccessDenied) as refused:
        engine.collect(purpose=purpose, items=person, consent=YES, actor=SERVICE)
    assert refused.value.code == "NO_GRANT"
    assert "lottery" not in said(refused.value)
    assert newest(engine).purpose == "<undeclared>"
    assert "lottery" not in every_logged_value(database)


def test_a_declared_purpose_is_still_named_in_a_refusal(
    engine: Engine, person: dict[str, str]
) -> None:
    """It names a declared purpose the actor holds no grant for, as the README shows."""
    with pytest.raises(AccessDenied) as refused:
        engine.collect(purpose="marketing", items=person, consent=YES, actor=SERVICE)
    assert "'marketing'" in str(refused.value)
    assert newest(engine).purpose == "marketing"
