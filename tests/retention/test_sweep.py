"""The sweep: due collections are destroyed with certificates, or separated under a hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from haechi import AccessDenied, Actor, Conflict, ConsentEvidence, Engine, InvalidInput, NotFound
from haechi.config import Settings
from haechi.crypto.keys import LocalKeyProvider
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.tables import (
    audit_events,
    data_keys,
    destruction_certificates,
    items,
    separated_items,
    separated_keys,
)
from tests.conftest import Database, FakeClock

YES = ConsentEvidence(granted=True, method="web-form")
OFFICER = Actor(
    name="officer", kind="staff", purposes=frozenset({"service", "marketing", "complaints"})
)
AUDITOR = Actor(name="auditor", kind="staff", purposes=frozenset({"hold:complaints"}))


def count(database: Database, table: object, *where: object) -> int:
    with database.engine.connect() as connection:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        return int(connection.execute(query.where(*where)).scalar_one())  # type: ignore[arg-type]


def code_of(engine: Engine, actor: Actor, subject_id: str, purpose: str) -> str:
    with pytest.raises(AccessDenied) as caught:
        engine.use(actor=actor, subject_id=subject_id, purpose=purpose)
    return caught.value.code


def test_expired_collection_is_destroyed_with_a_certificate(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It shreds the key, deletes the items, keeps ids and dates, and certifies item names."""
    kept = engine.collect(purpose="marketing", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=200)  # marketing is kept six months, service a year
    gone = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=1)
    report = engine.sweep()
    assert (report.expired, report.destroyed, report.separated) == (1, 1, 0)
    assert engine.collection(kept.collection_id, actor=SYSTEM).state.value == "destroyed"
    assert engine.collection(gone.collection_id, actor=SYSTEM).state.value == "active"
    assert count(database, items, items.c.collection_id == kept.collection_id) == 0
    assert count(database, data_keys, data_keys.c.collection_id == kept.collection_id) == 0
    assert count(database, items, items.c.collection_id == gone.collection_id) == 6
    [certificate] = engine.certificates()
    assert certificate.collection_id == kept.collection_id
    assert certificate.items == sorted(person)
    assert (certificate.method, certificate.reason) == ("crypto-shred", "expired")
    assert certificate.batch_id == report.batch_id
    assert engine.certificate_for(kept.collection_id) == certificate.id
    assert code_of(engine, OFFICER, kept.subject_id, "marketing") == "DESTROYED"
    destroy_events = [e for e in engine.events() if e.action == "destroy"]
    assert [e.collection_id for e in destroy_events] == [kept.collection_id]
    assert destroy_events[0].items == sorted(person)


def test_a_sweep_at_another_time_is_a_dry_run_only(
    engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It refuses a real sweep as of another time, which would destroy undue data."""
    result = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    later = clock.now + timedelta(days=400)
    with pytest.raises(InvalidInput) as caught:
        engine.sweep(now=later)
    assert caught.value.field == "now"
    with pytest.raises(InvalidInput):
        engine.sweep(now=later.replace(tzinfo=None), dry_run=True)
    assert engine.sweep(now=later, dry_run=True).destroyed == 1
    assert engine.collection(result.collection_id, actor=SYSTEM).state.value == "active"
    assert engine.certificates() == []


def test_nothing_is_destroyed_before_it_is_due(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It leaves collections alone until their clock ends, and a dry run changes nothing."""
    result = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    assert engine.sweep().destroyed == 0
    clock.advance(days=400)
    dry = engine.sweep(dry_run=True)
    assert (dry.dry_run, dry.expired, dry.destroyed, dry.batch_id) == (True, 1, 1, None)
    assert engine.collection(result.collection_id, actor=SYSTEM).state.value == "active"
    assert engine.certificates() == []
    assert count(database, items) == 6


def test_withdrawal_and_accomplishment_make_data_due_at_once(
    engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It destroys withdrawn and accomplished collections at the next sweep, saying why."""
    withdrawn = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    other = dict(person, email="other.person@example.kr", contact="010-3333-4444")
    done = engine.collect(purpose="service", items=other, consent=YES, actor=SYSTEM)
    untouched = engine.collect(purpose="marketing", items=other, consent=YES, actor=SYSTEM)
    engine.withdraw_consent(withdrawn.collection_id, actor=SYSTEM)
    engine.mark_accomplished(done.collection_id, actor=SYSTEM)
    clock.advance(minutes=1)
    report = engine.sweep()
    assert report.destroyed == 2
    reasons = {c.collection_id: c.reason for c in engine.certificates()}
    assert reasons == {withdrawn.collection_id: "withdrawn", done.collection_id: "accomplished"}
    assert engine.collection(untouched.collection_id, actor=SYSTEM).state.value == "active"
    with pytest.raises(Conflict):
        engine.mark_accomplished(done.collection_id, actor=SYSTEM)


def test_legal_hold_separates_then_destroys_when_the_hold_ends(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It moves held data to the separated store, readable only for the hold, then destroys it."""
    result = engine.collect(purpose="complaints", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=366)
    report = engine.sweep()
    assert (report.expired, report.separated, report.destroyed) == (1, 1, 0)
    info = engine.collection(result.collection_id, actor=SYSTEM)
    assert info.state.value == "separated"
    assert count(database, items, items.c.collection_id == result.collection_id) == 0
    assert count(database, data_keys) == 0
    assert count(database, separated_items) == 6
    assert count(database, separated_keys) == 1
    # The purpose's own grant no longer opens it; only the hold's purpose does.
    assert code_of(engine, OFFICER, result.subject_id, "complaints") == "EXPIRED"
    values = engine.use(actor=AUDITOR, subject_id=result.subject_id, purpose="hold:complaints")
    assert values == person
    assert code_of(engine, AUDITOR, result.subject_id, "hold:service") == "PURPOSE_NOT_DECLARED"
    # The same person may give data again; the new collection lives beside the held one.
    again = engine.collect(purpose="complaints", items=person, consent=YES, actor=SYSTEM)
    assert again.created
    assert engine.use(actor=OFFICER, subject_id=result.subject_id, purpose="complaints") == person
    assert engine.use(actor=AUDITOR, subject_id=result.subject_id, purpose="hold:complaints")
    clock.advance(days=3 * 366)
    report = engine.sweep()
    # The held copy's hold has ended; the newer collection has expired and separates.
    assert (report.destroyed, report.separated) == (1, 1)
    assert engine.collection(result.collection_id, actor=SYSTEM).state.value == "destroyed"
    assert engine.collection(again.collection_id, actor=SYSTEM).state.value == "separated"
    gone = separated_keys.c.collection_id == result.collection_id
    assert count(database, separated_keys, gone) == 0
    certificate = next(c for c in engine.certificates() if c.collection_id == result.collection_id)
    assert (certificate.reason, certificate.items) == ("hold_ended", sorted(person))


def test_hold_purpose_refuses_live_data(engine: Engine, person: dict[str, str]) -> None:
    """It refuses the hold's purpose on data that is still live, and tokens may be given it."""
    result = engine.collect(purpose="complaints", items=person, consent=YES, actor=SYSTEM)
    assert code_of(engine, AUDITOR, result.subject_id, "hold:complaints") == "PURPOSE_NOT_DECLARED"
    info, _ = engine.create_token(name="auditor", purposes=["hold:complaints"])
    assert info.purposes == ["hold:complaints"]
    with pytest.raises(InvalidInput):
        engine.create_token(name="bad", purposes=["hold:service"])


def test_overdue_collections_are_listed_alerted_and_destroyed(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It lists what is past due + grace, raises an alert, and marks the certificates overdue."""
    result = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=365 + 4)  # due after 365 days (2026-03-02 → 2027-03-02)
    assert engine.overdue() == []
    clock.advance(days=2)
    assert engine.overdue() == [result.collection_id]
    dry = engine.sweep(dry_run=True)
    assert (dry.overdue, dry.overdue_ids) == (1, [result.collection_id])
    report = engine.sweep()
    assert (report.overdue, report.destroyed) == (1, 1)
    assert engine.certificates()[0].overdue
    assert engine.overdue() == []
    alerts = count(database, audit_events, audit_events.c.action == "retention_alert")
    assert alerts == 1


def test_confirmation_is_recorded_on_the_certificates(
    engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It lists batches awaiting confirmation; confirming stamps every certificate once."""
    engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    engine.collect(purpose="marketing", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=366)
    report = engine.sweep()
    assert report.batch_id is not None
    [waiting] = engine.destruction_batches(awaiting_only=True)
    assert (waiting.id, waiting.destroyed, waiting.awaiting_confirmation) == (
        report.batch_id,
        2,
        True,
    )
    assert all(c.confirmed_by is None for c in engine.certificates())
    confirmed = engine.confirm_destruction(report.batch_id, by="Chief Privacy Officer")
    assert not confirmed.awaiting_confirmation
    assert engine.destruction_batches(awaiting_only=True) == []
    assert {c.confirmed_by for c in engine.certificates()} == {"Chief Privacy Officer"}
    with pytest.raises(Conflict):
        engine.confirm_destruction(report.batch_id, by="someone")
    with pytest.raises(NotFound):
        engine.confirm_destruction("no-such-batch", by="someone")


def test_chunks_destroy_everything_in_one_batch(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It works chunk by chunk and still destroys every due collection once, in one batch."""
    for index in range(7):
        engine.collect(
            purpose="service",
            items=dict(person, email=f"p{index}@example.kr", contact=f"010-5555-{index:04d}"),
            consent=YES,
            actor=SYSTEM,
        )
    clock.advance(days=366)
    engine.settings.retention.chunk_size = 3
    assert engine.sweep().destroyed == 7
    assert count(database, destruction_certificates) == 7
    assert [b.destroyed for b in engine.destruction_batches()] == [7]
    assert count(database, items) == 0
    assert engine.sweep().destroyed == 0


def test_manual_destruction_is_certified(engine: Engine, person: dict[str, str]) -> None:
    """It gives a collection destroyed by hand a certificate of its own."""
    result = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    engine.destroy(result.collection_id, actor=SYSTEM)
    [certificate] = engine.certificates()
    assert (certificate.collection_id, certificate.reason) == (result.collection_id, "manual")
    engine.destroy(result.collection_id, actor=SYSTEM)  # again: nothing more to certify
    assert len(engine.certificates()) == 1


def test_paper_destruction_is_recorded(engine: Engine) -> None:
    """It records paper destroyed by shredding or incineration, with a witness."""
    record = engine.record_paper(
        description="2025 paper consent forms, box 3",
        method="shredding",
        destroyed_by="Kim",
        witness="Lee",
    )
    assert engine.paper_records() == [record]
    with pytest.raises(InvalidInput) as caught:
        engine.record_paper(description="x", method="burying", destroyed_by="Kim", witness="Lee")
    assert caught.value.field == "method"
    with pytest.raises(InvalidInput):
        engine.record_paper(description="x", method="shredding", destroyed_by="Kim", witness="Kim")


def test_paper_methods_are_the_policys(
    database: Database, keys: LocalKeyProvider, clock: FakeClock, settings: Settings
) -> None:
    """It takes only the paper methods the policy declares, as the published policy says."""
    text = demo_policy_text().replace(
        'paper = ["shredding", "incineration"]', 'paper = ["shredding"]'
    )
    assert text != demo_policy_text()
    engine = Engine(
        database=database.engine,
        policy=parse_policy(text),
        keys=keys,
        settings=settings,
        clock=clock,
    )
    engine.record_paper(description="box 4", method="shredding", destroyed_by="Kim", witness="Lee")
    with pytest.raises(InvalidInput) as caught:
        engine.record_paper(
            description="box 5", method="incineration", destroyed_by="Kim", witness="Lee"
        )
    assert caught.value.field == "method"
    assert "(shredding)" in str(caught.value)
