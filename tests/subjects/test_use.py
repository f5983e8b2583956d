"""Use: every read is decided, logged in the same transaction, then decrypted."""

from __future__ import annotations

import pytest

from haechi import AccessDenied, Actor, ConsentEvidence, Engine, InvalidInput, NotFound
from haechi.audit.events import personal_data_in
from haechi.engine import SYSTEM
from tests.conftest import FakeClock

YES = ConsentEvidence(granted=True, method="web-form")
SERVICE = Actor(name="crm", kind="token", purposes=frozenset({"service"}))
EVERYTHING = Actor(
    name="officer", kind="staff", purposes=frozenset({"service", "marketing", "complaints"})
)


@pytest.fixture
def subject(engine: Engine, person: dict[str, str]) -> tuple[str, str]:
    result = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    return result.subject_id, result.collection_id


def refusal(engine: Engine, subject_id: str, **kwargs: object) -> str:
    options: dict[str, object] = {"actor": SERVICE, "purpose": "service", **kwargs}
    with pytest.raises(AccessDenied) as caught:
        engine.use(subject_id=subject_id, **options)  # type: ignore[arg-type]
    return caught.value.code


def test_allowed_read_returns_values_and_is_logged(
    engine: Engine, subject: tuple[str, str], person: dict[str, str]
) -> None:
    """It returns the values and records who read which items, for what, from where."""
    subject_id, collection_id = subject
    values = engine.use(
        actor=SERVICE,
        subject_id=subject_id,
        purpose="service",
        items=["name", "email"],
        reason="answering inquiry 118",
        source_ip="198.51.100.4",
    )
    assert values == {"name": person["name"], "email": person["email"]}
    event = engine.events(limit=1)[0]
    assert (event.action, event.outcome, event.code) == ("view", "allowed", None)
    assert (event.actor, event.subject_id, event.collection_id) == (
        "crm",
        subject_id,
        collection_id,
    )
    assert (event.purpose, event.items, event.source_ip) == (
        "service",
        ["email", "name"],
        "198.51.100.4",
    )
    assert event.reason == "answering inquiry 118"


@pytest.mark.parametrize(
    "reason",
    [
        "call back 010-2345-6789",
        "asked by minji.kim@example.kr",
        "rrn 900101-1234568",
        "call back ０１０-２３４５-６７８９",  # full-width, as a Korean input method types it
        "card 4111\u200b1111\u200b1111\u200b1111",
        "call back 010\u20102345\u20106789",
    ],
)
def test_a_reason_holding_personal_data_is_refused_before_any_value_leaves(
    engine: Engine, subject: tuple[str, str], reason: str
) -> None:
    """It refuses, before reading, a reason the log would keep a person's value in.

    The refusal is an event, without the reason; the message quotes none of it.
    """
    before = engine.events(limit=1)[0].id
    with pytest.raises(InvalidInput) as refused:
        engine.use(actor=SERVICE, subject_id=subject[0], purpose="service", reason=reason)
    assert (refused.value.field, refused.value.code) == ("reason", "PERSONAL_DATA_IN_REASON")
    assert reason.split()[-1] not in str(refused.value)
    [event] = [event for event in engine.events(limit=5) if event.id > before]
    assert (event.outcome, event.code, event.reason) == ("denied", "PERSONAL_DATA_IN_REASON", None)


def test_ids_in_a_reason_are_not_personal_data() -> None:
    """It scans a reason's text, not the digits of the ids in it."""
    assert personal_data_in("rights_request 01023456-7890-4123-8456-789012345678 access") is None
    assert personal_data_in("asked by minji.kim@example.kr") == "email"


def test_no_grant(engine: Engine, subject: tuple[str, str]) -> None:
    """It refuses a purpose the actor holds no grant for."""
    engine.collect(
        purpose="marketing", items=dict(engine_person(engine, subject)), consent=YES, actor=SYSTEM
    )
    assert refusal(engine, subject[0], purpose="marketing") == "NO_GRANT"


def engine_person(engine: Engine, subject: tuple[str, str]) -> dict[str, str]:
    return engine.use(actor=EVERYTHING, subject_id=subject[0], purpose="service")


def test_no_consent_for_another_purpose(engine: Engine, subject: tuple[str, str]) -> None:
    """It refuses use for a purpose the subject never consented to."""
    assert refusal(engine, subject[0], actor=EVERYTHING, purpose="marketing") == "NO_CONSENT"


def test_no_consent_after_withdrawal(engine: Engine, subject: tuple[str, str]) -> None:
    """It refuses use from the moment consent is withdrawn."""
    engine.withdraw_consent(subject[1], actor=SYSTEM)
    assert refusal(engine, subject[0]) == "NO_CONSENT"


def test_purpose_not_declared(engine: Engine, subject: tuple[str, str]) -> None:
    """It refuses a purpose the policy does not declare."""
    assert refusal(engine, subject[0], purpose="profiling") == "PURPOSE_NOT_DECLARED"


def test_item_not_declared(engine: Engine, subject: tuple[str, str]) -> None:
    """It refuses an item the purpose does not declare."""
    assert refusal(engine, subject[0], items=["name", "income"]) == "ITEM_NOT_DECLARED"


def test_expired_before_any_sweep(
    engine: Engine, subject: tuple[str, str], clock: FakeClock
) -> None:
    """It refuses from the instant the retention ends, whether or not a sweep ran."""
    clock.advance(days=364)
    assert engine.use(actor=SERVICE, subject_id=subject[0], purpose="service", items=["name"])
    clock.advance(days=1)
    assert refusal(engine, subject[0]) == "EXPIRED"


def test_held(engine: Engine, subject: tuple[str, str]) -> None:
    """It refuses while a hold (a pending correction) is in place, and resumes after."""
    hold = engine.place_hold(subject[1], reason="correction-request", actor=SYSTEM)
    assert refusal(engine, subject[0]) == "HELD"
    engine.release_hold(subject[1], hold, actor=SYSTEM)
    assert engine.use(actor=SERVICE, subject_id=subject[0], purpose="service")


def test_suspended(engine: Engine, subject: tuple[str, str]) -> None:
    """It refuses while processing is suspended at the subject's request."""
    engine.suspend(subject[1], actor=SYSTEM)
    assert refusal(engine, subject[0]) == "SUSPENDED"
    engine.resume(subject[1], actor=SYSTEM)
    assert engine.use(actor=SERVICE, subject_id=subject[0], purpose="service")


def test_destroyed(engine: Engine, subject: tuple[str, str]) -> None:
    """It refuses once the collection is destroyed."""
    shredded = engine.destroy(subject[1], actor=SYSTEM)
    assert shredded.item_names == sorted(
        ["name", "contact", "email", "company", "department", "title"]
    )
    assert refusal(engine, subject[0]) == "DESTROYED"


def test_a_new_collection_after_destruction_is_used(
    engine: Engine, subject: tuple[str, str], person: dict[str, str]
) -> None:
    """It reads the live collection, not the destroyed one, after a fresh consent."""
    # Data for another purpose keeps the subject known (see test_forget_identifiers).
    engine.collect(purpose="marketing", items=person, consent=YES, actor=SYSTEM)
    engine.destroy(subject[1], actor=SYSTEM)
    again = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    assert again.collection_id != subject[1]
    assert again.subject_id == subject[0]
    assert engine.use(actor=SERVICE, subject_id=subject[0], purpose="service")["name"]


def test_every_refusal_is_logged_and_committed(engine: Engine, subject: tuple[str, str]) -> None:
    """It commits a denied event even though the call raised."""
    refusal(engine, subject[0], purpose="profiling")
    refusal(engine, subject[0], actor=EVERYTHING, purpose="marketing")
    events = engine.events(limit=2)
    assert [(e.outcome, e.code) for e in events] == [
        ("denied", "NO_CONSENT"),
        ("denied", "PURPOSE_NOT_DECLARED"),
    ]
    assert all(e.subject_id == subject[0] for e in events)


def test_unknown_subject_is_not_found_and_logged(engine: Engine) -> None:
    """It answers NotFound for an unknown subject and still records the attempt."""
    with pytest.raises(NotFound):
        engine.use(
            actor=SERVICE, subject_id="00000000-0000-0000-0000-000000000000", purpose="service"
        )
    [event] = engine.events(limit=1)
    assert (event.outcome, event.code) == ("denied", "NOT_FOUND")


def test_lookup_by_email_or_phone(
    engine: Engine, subject: tuple[str, str], person: dict[str, str]
) -> None:
    """It finds the subject by a normalised email or phone and logs the lookup."""
    assert (
        engine.find_subject(actor=SERVICE, kind="email", value="Minji.Kim@Example.KR") == subject[0]
    )
    assert engine.find_subject(actor=SERVICE, kind="phone", value="+82-10-2345-6789") == subject[0]
    assert engine.find_subject(actor=SERVICE, kind="email", value="nobody@example.kr") is None
    assert engine.events(limit=1)[0].action == "lookup"


def test_audit_events_are_append_only(engine: Engine, subject: tuple[str, str]) -> None:
    """It refuses UPDATE and DELETE on the audit table, in the database itself."""
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DatabaseError

    from haechi.storage.tables import audit_events

    with pytest.raises(DatabaseError), engine.transaction() as connection:
        connection.execute(update(audit_events).values(actor="someone-else"))
    with pytest.raises(DatabaseError), engine.transaction() as connection:
        connection.execute(delete(audit_events))
    assert len(engine.events()) == 1


def test_a_hold_is_released_only_through_its_own_collection(
    engine: Engine, subject: tuple[str, str], person: dict[str, str]
) -> None:
    """It refuses to release a hold named through another purpose's collection."""
    marketing = engine.collect(
        purpose="marketing", items=person, consent=YES, actor=SYSTEM
    ).collection_id
    hold = engine.place_hold(marketing, reason="correction-request", actor=SYSTEM)
    with pytest.raises(NotFound):
        engine.release_hold(subject[1], hold, actor=SERVICE)
    assert refusal(engine, subject[0], actor=EVERYTHING, purpose="marketing") == "HELD"


def test_lookups_need_a_purpose_that_collects_the_value(
    engine: Engine, subject: tuple[str, str]
) -> None:
    """It refuses (and logs) a lookup by an actor serving no purpose, e.g. an auditor."""
    auditor = Actor(name="yoon", kind="staff", purposes=frozenset())
    with pytest.raises(AccessDenied) as caught:
        engine.find_subject(actor=auditor, kind="email", value="minji.kim@example.kr")
    assert caught.value.code == "NO_GRANT"
    event = engine.events(limit=1)[0]
    assert (event.action, event.outcome, event.subject_id) == ("lookup", "denied", None)
