"""Subject identity: one person per subject, found however the identifier was typed."""

from __future__ import annotations

import unicodedata

import pytest

from haechi import Actor, ConsentEvidence, Engine, Settings
from haechi.crypto.keys import LocalKeyProvider
from haechi.engine import SYSTEM
from haechi.errors import Conflict, InvalidInput
from haechi.policy import parse_policy
from haechi.policy.schema import ItemKind
from haechi.subjects import identifier
from tests.conftest import Database, FakeClock
from tests.subjects.conftest import phone_first_policy_text

YES = ConsentEvidence(granted=True, method="web-form")
SERVICE = Actor(name="crm", kind="token", purposes=frozenset({"service"}))
COMPLAINTS = Actor(name="desk", kind="token", purposes=frozenset({"complaints"}))
HOLD = Actor(name="legal", kind="staff", purposes=frozenset({"hold:complaints"}))
BOTH = Actor(name="officer", kind="staff", purposes=frozenset({"service", "complaints"}))

OFFICE_LINE = "02-583-7788"


def someone(name: str, email: str | None, phone: str = OFFICE_LINE) -> dict[str, str]:
    values = {
        "name": name,
        "contact": phone,
        "company": "한빛상사",
        "department": "구매팀",
        "title": "대리",
    }
    if email is not None:
        values["email"] = email
    return values


ALICE = someone("김앨리스", "alice@example.kr")
BOB = someone("박밥", "bob@example.kr")


def test_a_shared_phone_never_merges_two_people(engine: Engine) -> None:
    """It keeps two subjects for two emails on one office line; Alice's data stays hers."""
    alice = engine.collect(purpose="service", items=ALICE, consent=YES, actor=SYSTEM)
    bob = engine.collect(purpose="service", items=BOB, consent=YES, actor=SYSTEM)
    assert bob.created
    assert bob.subject_id != alice.subject_id
    assert engine.find_subject(actor=SERVICE, kind="email", value="alice@example.kr") == (
        alice.subject_id
    )
    values = engine.use(actor=SERVICE, subject_id=alice.subject_id, purpose="service")
    assert (values["name"], values["email"]) == ("김앨리스", "alice@example.kr")
    assert engine.use(actor=SERVICE, subject_id=bob.subject_id, purpose="service")["name"] == "박밥"


def test_a_lookup_by_a_shared_phone_is_refused_as_ambiguous(engine: Engine) -> None:
    """It refuses (409, logged) to pick one of two people who share a phone."""
    engine.collect(purpose="service", items=ALICE, consent=YES, actor=SYSTEM)
    engine.collect(purpose="service", items=BOB, consent=YES, actor=SYSTEM)
    with pytest.raises(Conflict) as caught:
        engine.find_subject(actor=SERVICE, kind="phone", value="+82 2 583 7788")
    assert (caught.value.code, caught.value.field) == ("AMBIGUOUS_IDENTIFIER", "value")
    event = engine.events(limit=1)[0]
    assert (event.action, event.outcome, event.code, event.subject_id) == (
        "lookup",
        "denied",
        "AMBIGUOUS_IDENTIFIER",
        None,
    )


def test_a_shared_phone_answers_with_the_only_holder_the_actor_may_see(engine: Engine) -> None:
    """It answers a phone lookup with the one holder visible to the actor, not the other."""
    alice = engine.collect(purpose="service", items=ALICE, consent=YES, actor=SYSTEM)
    engine.collect(purpose="complaints", items=BOB, consent=YES, actor=SYSTEM)
    assert engine.find_subject(actor=SERVICE, kind="phone", value=OFFICE_LINE) == alice.subject_id


def test_a_phone_does_not_attach_an_email_to_a_subject_without_one(
    phone_engine: Engine,
) -> None:
    """It makes a new subject when only the phone matches and the old record has no email."""
    call = phone_engine.collect(
        purpose="complaints", items=someone("김앨리스", None), consent=YES, actor=SYSTEM
    )
    form = phone_engine.collect(purpose="service", items=BOB, consent=YES, actor=SYSTEM)
    assert form.subject_id != call.subject_id
    values = phone_engine.use(actor=COMPLAINTS, subject_id=call.subject_id, purpose="complaints")
    assert values["name"] == "김앨리스"


def test_phone_only_data_does_not_attach_to_a_subject_holding_an_email(
    phone_engine: Engine,
) -> None:
    """It makes a new subject for a phone-only record of a line someone gave with an email."""
    alice = phone_engine.collect(purpose="complaints", items=ALICE, consent=YES, actor=SYSTEM)
    call = phone_engine.collect(
        purpose="complaints", items=someone("박밥", None), consent=YES, actor=SYSTEM
    )
    assert call.created
    assert call.subject_id != alice.subject_id
    values = phone_engine.use(actor=COMPLAINTS, subject_id=alice.subject_id, purpose="complaints")
    assert (values["name"], values["email"]) == ("김앨리스", "alice@example.kr")


def test_an_email_match_wins_and_the_phone_becomes_shared(engine: Engine) -> None:
    """It files data under the email's subject, and the phone then finds both people."""
    alice = engine.collect(purpose="service", items=ALICE, consent=YES, actor=SYSTEM)
    bob = engine.collect(
        purpose="service",
        items=someone("박밥", "bob@example.kr", "010-9999-0000"),
        consent=YES,
        actor=SYSTEM,
    )
    again = engine.collect(purpose="complaints", items=BOB, consent=YES, actor=SYSTEM)
    assert again.subject_id == bob.subject_id
    with pytest.raises(Conflict):
        engine.find_subject(actor=BOTH, kind="phone", value=OFFICE_LINE)
    assert engine.find_subject(actor=BOTH, kind="email", value="alice@example.kr") == (
        alice.subject_id
    )


def test_two_emails_of_two_subjects_are_refused(
    database: Database, keys: LocalKeyProvider, clock: FakeClock, settings: Settings
) -> None:
    """It refuses (409) data whose two emails belong to two different subjects."""
    text = phone_first_policy_text().replace(
        "[items.company]",
        '[items.work_email]\nlabel = { ko = "회사 이메일", en = "Work email" }\n'
        'kind = "email"\n\n[items.company]',
    )
    text = text.replace('optional_items = ["email"]', 'optional_items = ["email", "work_email"]')
    engine = Engine(
        database=database.engine,
        policy=parse_policy(text),
        keys=keys,
        settings=settings,
        clock=clock,
    )
    engine.collect(purpose="complaints", items=ALICE, consent=YES, actor=SYSTEM)
    engine.collect(purpose="complaints", items=BOB, consent=YES, actor=SYSTEM)
    both = {**ALICE, "work_email": "bob@example.kr"}
    with pytest.raises(Conflict) as caught:
        engine.collect(purpose="complaints", items=both, consent=YES, actor=SYSTEM)
    assert caught.value.code == "IDENTIFIERS_DISAGREE"
    assert "example.kr" not in str(caught.value)


# -- one normaliser ------------------------------------------------------------------


_NFC = "김민지@example.kr"


@pytest.mark.parametrize(
    ("item", "kind", "collected", "looked_up"),
    [
        ("email", "email", "eve@xn--bcher-kva.de", "eve@bücher.de"),
        ("email", "email", "eve@bücher.de", "EVE@XN--BCHER-KVA.DE"),
        ("email", "email", _NFC, unicodedata.normalize("NFD", _NFC)),
        ("email", "email", unicodedata.normalize("NFD", _NFC), "김민지@EXAMPLE.KR"),
        ("contact", "phone", "010-１１１１-２２２２", "01011112222"),
        ("contact", "phone", "01011112222", "０１０－１１１１－２２２２"),
        ("contact", "phone", "010-1111-2222", "+82 10 1111 2222"),
        ("contact", "phone", "+82-10-1111-2222", "(010) 1111.2222"),
    ],
)
def test_an_identifier_is_found_in_another_form(
    engine: Engine, person: dict[str, str], item: str, kind: str, collected: str, looked_up: str
) -> None:
    """It finds an email (IDNA, NFD, case) or phone (full-width, +82) typed any other way."""
    result = engine.collect(
        purpose="service", items={**person, item: collected}, consent=YES, actor=SYSTEM
    )
    assert engine.find_subject(actor=SERVICE, kind=kind, value=looked_up) == result.subject_id


@pytest.mark.parametrize(
    ("item", "spelling", "respelling"),
    [
        ("email", "eve@bücher.de", "Eve@xn--bcher-kva.de"),
        ("contact", "010-1111-2222", "010-１１１１-２２２２"),
    ],
    ids=["idna", "full-width"],
)
def test_one_identifier_in_two_spellings_is_one_subject(
    phone_engine: Engine, person: dict[str, str], item: str, spelling: str, respelling: str
) -> None:
    """It files an email in punycode or a phone in full-width digits under one subject."""
    values = person if item == "email" else {k: v for k, v in person.items() if k != "email"}
    results = [
        phone_engine.collect(
            purpose="complaints", items={**values, item: form}, consent=YES, actor=SYSTEM
        )
        for form in (spelling, respelling)
    ]
    assert results[0].subject_id == results[1].subject_id


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("010-2345-6789", "+821023456789"),
        ("+82 10 2345 6789", "+821023456789"),
        ("010-２３４５-６７８９", "+821023456789"),
        ("02-583-7788", "+8225837788"),
        ("1588-1234", "+8215881234"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_phones_are_indexed_in_e164(raw: str, stored: str) -> None:
    """It turns every notation of a phone number into E.164."""
    cleaned = identifier(ItemKind.PHONE, raw)
    assert cleaned is not None
    assert cleaned.normalized == stored


@pytest.mark.parametrize(
    "raw",
    ["12345", "010-1234-567a", "010-2345-6789 ext 3", "010-2345-6789\u200f", "\ud800", "0\x00"],
    ids=["short", "letter", "extension", "rtl-mark", "surrogate", "nul"],
)
def test_what_is_not_a_phone_number_is_refused(raw: str) -> None:
    """It refuses letters, extensions, direction marks, surrogates, NUL and short numbers."""
    assert identifier(ItemKind.PHONE, raw) is None


@pytest.mark.parametrize(
    "value",
    ["\ud800@example.kr", "a\x00@example.kr", "x" * 10_000],
    ids=["surrogate", "nul", "huge"],
)
def test_a_lookup_refuses_unusable_text_naming_the_field(engine: Engine, value: str) -> None:
    """It refuses a lone surrogate, a NUL or a huge value as InvalidInput on ``value``."""
    with pytest.raises(InvalidInput) as caught:
        engine.find_subject(actor=SERVICE, kind="email", value=value)
    assert caught.value.field == "value"


def test_a_lookup_of_an_unknown_kind_is_refused_without_echoing_it(engine: Engine) -> None:
    """It refuses a kind other than email or phone, and neither logs nor echoes it."""
    with pytest.raises(InvalidInput) as caught:
        engine.find_subject(actor=SERVICE, kind="ssn-" + "x" * 100, value="1")
    assert caught.value.field == "kind"
    assert "ssn" not in str(caught.value)
    assert engine.events() == []


# -- lookups across purposes ----------------------------------------------------------


def test_a_lookup_never_reveals_data_of_a_purpose_the_actor_does_not_serve(
    engine: Engine,
) -> None:
    """It answers "not found" for a subject known only to another purpose, and logs a refusal."""
    bob = engine.collect(purpose="complaints", items=BOB, consent=YES, actor=SYSTEM)
    hidden = engine.find_subject(actor=SERVICE, kind="email", value="bob@example.kr")
    unknown = engine.find_subject(actor=SERVICE, kind="email", value="nobody@example.kr")
    assert hidden is None
    assert unknown is None
    refusal, miss = engine.events(limit=2)[1], engine.events(limit=1)[0]
    assert (refusal.outcome, refusal.code, refusal.subject_id) == (
        "denied",
        "NO_GRANT",
        bob.subject_id,
    )
    assert (miss.outcome, miss.code) == ("allowed", "NOT_FOUND")
    assert engine.find_subject(actor=COMPLAINTS, kind="email", value="bob@example.kr") == (
        bob.subject_id
    )


def test_a_record_under_legal_hold_is_found_only_under_the_hold(
    engine: Engine, clock: FakeClock
) -> None:
    """It hides a separated complaints record from complaints and service, not from the hold."""
    bob = engine.collect(purpose="complaints", items=BOB, consent=YES, actor=SYSTEM)
    clock.advance(days=400)
    assert engine.sweep().separated == 1
    for actor in (SERVICE, COMPLAINTS):
        assert engine.find_subject(actor=actor, kind="email", value="bob@example.kr") is None
    assert engine.find_subject(actor=HOLD, kind="email", value="bob@example.kr") == (bob.subject_id)


def test_destroyed_data_is_found_by_no_one(engine: Engine) -> None:
    """It answers "not found" once a subject's only collection is destroyed."""
    alice = engine.collect(purpose="service", items=ALICE, consent=YES, actor=SYSTEM)
    engine.destroy(alice.collection_id, actor=SYSTEM)
    assert engine.find_subject(actor=SYSTEM, kind="email", value="alice@example.kr") is None
