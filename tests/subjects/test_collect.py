"""Collection: what the policy allows is stored sealed; everything else is refused."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from haechi import Actor, ConsentEvidence, Engine
from haechi.engine import SYSTEM
from haechi.errors import (
    AccessDenied,
    Conflict,
    ConsentRequired,
    InvalidInput,
    ItemNotDeclared,
    MissingItem,
    PurposeNotDeclared,
)
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.tables import audit_events, collections, consents, items, subjects
from tests.conftest import FakeClock

YES = ConsentEvidence(granted=True, method="web-form", source_ip="203.0.113.7")
NO = ConsentEvidence(granted=False, method="web-form")


def count(engine: Engine, table: object) -> int:
    with engine.transaction() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_collect_creates_subject_collection_and_consent(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It stores one subject, one collection expiring after the retention, and consent."""
    result = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    assert result.created
    assert result.expires_at == clock.now.replace(year=clock.now.year + 1)
    info = engine.collection(result.collection_id, actor=SYSTEM)
    assert info.state.value == "active"
    assert info.purpose == "service"
    assert info.policy_version == engine.policy.version_id
    assert count(engine, subjects) == 1
    assert count(engine, items) == 6
    assert count(engine, consents) == 1


def test_marketing_expires_after_six_months(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It sets the marketing clock to six months."""
    result = engine.collect(purpose="marketing", items=person, consent=YES, actor=SYSTEM)
    assert result.expires_at == clock.now.replace(month=clock.now.month + 6)


def test_two_purposes_are_one_subject_with_two_collections(
    engine: Engine, person: dict[str, str]
) -> None:
    """It matches the same person by email through the blind index."""
    first = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    second = engine.collect(
        purpose="marketing",
        items={**person, "email": "MINJI.KIM@EXAMPLE.KR"},
        consent=YES,
        actor=SYSTEM,
    )
    assert first.subject_id == second.subject_id
    assert first.collection_id != second.collection_id
    assert count(engine, subjects) == 1
    assert count(engine, collections) == 2


def test_phone_in_another_notation_matches_the_same_subject(
    phone_engine: Engine, person: dict[str, str]
) -> None:
    """It matches +82 and domestic forms of one person's phone, given without an email."""
    call = {name: value for name, value in person.items() if name != "email"}
    first = phone_engine.collect(purpose="complaints", items=call, consent=YES, actor=SYSTEM)
    again = {**call, "contact": "+82 10 2345 6789", "title": "과장"}
    second = phone_engine.collect(purpose="complaints", items=again, consent=YES, actor=SYSTEM)
    assert first.subject_id == second.subject_id
    assert first.collection_id == second.collection_id


def test_different_people_are_different_subjects(engine: Engine, person: dict[str, str]) -> None:
    """It creates a new subject when neither email nor phone is known."""
    first = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    other = {**person, "email": "someone@example.kr", "contact": "02-555-0199"}
    assert (
        engine.collect(purpose="service", items=other, consent=YES, actor=SYSTEM).subject_id
        != first.subject_id
    )


def test_collecting_again_replaces_values_and_restarts_the_clock(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It keeps one collection per subject and purpose, with the new values."""
    first = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=100)
    second = engine.collect(
        purpose="service", items={**person, "title": "과장"}, consent=YES, actor=SYSTEM
    )
    assert second.collection_id == first.collection_id
    assert not second.created
    assert second.expires_at > first.expires_at
    assert count(engine, collections) == 1
    values = engine.use(
        actor=engine_actor("service"), subject_id=first.subject_id, purpose="service"
    )
    assert values["title"] == "과장"


def engine_actor(*purposes: str):  # type: ignore[no-untyped-def]
    from haechi import Actor

    return Actor(name="tester", kind="staff", purposes=frozenset(purposes))


def test_refuses_an_undeclared_purpose(engine: Engine, person: dict[str, str]) -> None:
    """It refuses a purpose the policy does not declare."""
    with pytest.raises(PurposeNotDeclared) as caught:
        engine.collect(purpose="lottery", items=person, consent=YES, actor=SYSTEM)
    assert caught.value.field == "purpose"


def test_refuses_an_undeclared_item(engine: Engine, person: dict[str, str]) -> None:
    """It refuses an item the purpose does not declare, naming it."""
    with pytest.raises(ItemNotDeclared) as caught:
        engine.collect(
            purpose="service", items={**person, "birthday": "1990-01-01"}, consent=YES, actor=SYSTEM
        )
    # Client text is never echoed: a name the policy does not declare is only counted.
    assert caught.value.field == "items"
    assert "birthday" not in str(caught.value)


def test_refuses_an_item_of_another_purpose_naming_it(
    engine: Engine, person: dict[str, str]
) -> None:
    """It names an item the policy declares, but not for this purpose."""
    text = demo_policy_text().replace(
        "[items.title]",
        '[items.birthday]\nlabel = { ko = "생일", en = "Birthday" }\n'
        'kind = "text"\n\n[items.title]',
    )
    other = Engine(
        database=engine.database, policy=parse_policy(text), keys=engine.keys, clock=engine.clock
    )
    with pytest.raises(ItemNotDeclared) as caught:
        other.collect(
            purpose="service", items={**person, "birthday": "1990-01-01"}, consent=YES, actor=SYSTEM
        )
    assert caught.value.field == "items.birthday"


def test_refuses_a_missing_required_item(engine: Engine, person: dict[str, str]) -> None:
    """It refuses a collection missing a required item, naming it."""
    del person["email"]
    with pytest.raises(MissingItem) as caught:
        engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    assert caught.value.field == "items.email"


@pytest.mark.parametrize(
    ("item", "value"),
    [
        ("contact", "12345"),
        ("contact", "010-1234-567a"),
        ("email", "not-an-email"),
        ("email", "a@@b.kr"),
        ("name", ""),
        ("name", "x" * 101),
        ("name", "line\nbreak"),
        ("name", "line\u2028break"),
        ("company", 42),
    ],
)
def test_refuses_invalid_values_naming_the_field(
    engine: Engine, person: dict[str, object], item: str, value: object
) -> None:
    """It refuses a malformed value and names the field, never the value."""
    person[item] = value
    with pytest.raises(InvalidInput) as caught:
        engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    assert caught.value.field == f"items.{item}"
    if isinstance(value, str) and value:
        assert value not in str(caught.value)


def test_refuses_without_consent(engine: Engine, person: dict[str, str]) -> None:
    """It refuses a consent-based purpose when consent was not granted."""
    with pytest.raises(ConsentRequired) as caught:
        engine.collect(purpose="marketing", items=person, consent=NO, actor=SYSTEM)
    assert caught.value.code == "NO_CONSENT"
    assert count(engine, subjects) == 0


def test_refuses_a_resident_number_typed_into_free_text(
    engine: Engine, person: dict[str, str]
) -> None:
    """It refuses a unique identifier in a text item the policy does not declare."""
    person["department"] = "영업팀 900101-1234568"
    with pytest.raises(InvalidInput) as caught:
        engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    assert caught.value.code == "UNIQUE_IDENTIFIER_IN_TEXT"
    assert "900101" not in str(caught.value)


def test_refused_collections_store_nothing(engine: Engine, person: dict[str, str]) -> None:
    """It leaves no subject, item or event behind after a refusal."""
    person["contact"] = "nope"
    with pytest.raises(InvalidInput):
        engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    assert count(engine, subjects) == count(engine, items) == count(engine, audit_events) == 0


def test_a_token_collects_only_for_its_purposes(engine: Engine, person: dict[str, str]) -> None:
    """It refuses collection for a purpose the actor holds no grant for, and logs it."""
    with pytest.raises(AccessDenied) as caught:
        engine.collect(
            purpose="marketing", items=person, consent=YES, actor=engine_actor("service")
        )
    assert caught.value.code == "NO_GRANT"
    assert count(engine, subjects) == 0
    [event] = engine.events()
    assert (event.action, event.outcome, event.code) == ("collect", "denied", "NO_GRANT")


def test_every_problem_is_reported_at_once(engine: Engine, person: dict[str, str]) -> None:
    """It reports a missing item and an invalid email together, as the first problem's class."""
    del person["name"]
    person["email"] = "not-an-email"
    with pytest.raises(MissingItem) as caught:
        engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    faults = [(fault.field, fault.code) for fault in caught.value.faults]
    assert faults == [
        ("items.name", "MISSING_ITEM"),
        ("items.email", "INVALID_INPUT"),
    ]
    assert caught.value.field == "items.name"
    assert "not-an-email" not in str(caught.value)


def test_undeclared_items_missing_items_consent_and_values_together(
    engine: Engine, person: dict[str, str]
) -> None:
    """It lists undeclared, missing, consent and value problems in that order."""
    del person["title"]
    person.update(contact="12345", nickname="x", hobby="y")
    with pytest.raises(ItemNotDeclared) as caught:
        engine.collect(purpose="service", items=person, consent=NO, actor=SYSTEM)
    assert [(fault.field, fault.code) for fault in caught.value.faults] == [
        ("items", "ITEM_NOT_DECLARED"),
        ("items.title", "MISSING_ITEM"),
        ("consent.granted", "NO_CONSENT"),
        ("items.contact", "INVALID_INPUT"),
    ]
    assert "nickname" not in str(caught.value)


def test_too_many_items_are_refused_at_once_with_one_fault(
    engine: Engine, person: dict[str, str]
) -> None:
    """It refuses a collection with more keys than any purpose could take, in one fault."""
    flood = {**person, **{f"k{i}": "v" for i in range(100_000)}}
    with pytest.raises(InvalidInput) as caught:
        engine.collect(purpose="service", items=flood, consent=YES, actor=SYSTEM)
    assert caught.value.code == "TOO_MANY_ITEMS"
    assert len(caught.value.faults) == 1
    assert count(engine, audit_events) == 0


@pytest.mark.parametrize(
    "bad",
    ["\ud800", "a\x00b", "\x9b2J", "a\x85b", "\x1b[2J", "bidi\u202egnp.exe", "a\u2067b"],
    ids=["surrogate", "nul", "c1-csi", "c1-nel", "c0-escape", "bidi-override", "bidi-isolate"],
)
def test_a_lone_surrogate_nul_or_control_in_a_value_is_invalid_input(
    engine: Engine, person: dict[str, str], bad: str
) -> None:
    """It refuses a value holding a lone surrogate, NUL, a C0/C1 or a bidi control.

    A C1 control (CSI, U+009B, opens an escape sequence on a terminal that honours
    8-bit controls) has no place in a name, an address or a phone number; a bidi
    override makes a staff page show another value than the one stored.
    """
    for item in ("name", "email", "contact", "company"):
        with pytest.raises(InvalidInput) as caught:
            engine.collect(
                purpose="service", items={**person, item: "김" + bad}, consent=YES, actor=SYSTEM
            )
        assert caught.value.field == f"items.{item}"
    assert count(engine, subjects) == 0


@pytest.mark.parametrize("bad", ["\ud800", "na\x00me"], ids=["surrogate", "nul"])
def test_a_lone_surrogate_or_nul_in_an_item_name_is_invalid_input(
    engine: Engine, person: dict[str, str], bad: str
) -> None:
    """It refuses an item name holding a lone surrogate or NUL as InvalidInput on ``items``."""
    with pytest.raises(InvalidInput) as caught:
        engine.collect(purpose="service", items={**person, bad: "x"}, consent=YES, actor=SYSTEM)
    assert (caught.value.field, caught.value.code) == ("items", "INVALID_ITEM_NAME")
    assert bad not in str(caught.value)


def test_held_data_is_not_replaced_until_the_hold_is_released(
    engine: Engine, person: dict[str, str]
) -> None:
    """It refuses new values under a pending request's hold, and takes them once released."""
    first = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    hold = engine.place_hold(first.collection_id, reason="correction-request", actor=SYSTEM)
    with pytest.raises(Conflict) as caught:
        engine.collect(
            purpose="service", items={**person, "title": "과장"}, consent=YES, actor=SYSTEM
        )
    assert caught.value.code == "COLLECTION_HELD"
    engine.release_hold(first.collection_id, hold, actor=SYSTEM)
    again = engine.collect(
        purpose="service", items={**person, "title": "과장"}, consent=YES, actor=SYSTEM
    )
    assert again.collection_id == first.collection_id


def test_collections_from_many_threads_at_once_are_each_stored_whole(
    engine: Engine, person: dict[str, str]
) -> None:
    """It stores every one of concurrent collections, re-collections included, with its event.

    Eight threads share the engine (as a server's request threads do): four people are
    collected for two purposes, each by two threads at once, and then again.
    """
    people = [{**person, "email": f"person{n}@example.kr"} for n in range(4)]
    calls = [(p, purpose) for p in people for purpose in ("service", "marketing")] * 2
    gate = threading.Barrier(8)

    def collect(call: tuple[dict[str, str], str]) -> tuple[str, str]:
        gate.wait(timeout=30)
        values, purpose = call
        result = engine.collect(purpose=purpose, items=values, consent=YES, actor=SYSTEM)
        return result.subject_id, result.collection_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(collect, calls))
    by_person: dict[str, set[str]] = {}
    for (values, _), (subject_id, _) in zip(calls, results, strict=True):
        by_person.setdefault(values["email"], set()).add(subject_id)
    assert all(len(subject_ids) == 1 for subject_ids in by_person.values())
    assert len({subject for ids in by_person.values() for subject in ids}) == 4
    assert len({collection_id for _, collection_id in results}) == 8
    assert count(engine, collections) == 8
    assert count(engine, items) == 8 * 6
    with engine.transaction() as connection:
        events = connection.execute(
            select(func.count()).where(audit_events.c.action == "collect")
        ).scalar_one()
    assert events == len(calls)
    reader = Actor(name="crm", kind="token", purposes=frozenset({"service", "marketing"}))
    for values, purpose in calls[:8]:
        [subject_id] = by_person[values["email"]]
        assert (
            engine.use(actor=reader, subject_id=subject_id, purpose=purpose)["email"]
            == (values["email"])
        )
