"""Destroying data kept under a legal hold: refused until the hold ends, then whole."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from haechi import AccessDenied, Actor, ConsentEvidence, Engine
from haechi.engine import SYSTEM
from haechi.retention import Sweeper
from haechi.retention.records import certify_manual
from haechi.storage.tables import (
    collections,
    destruction_batches,
    destruction_certificates,
    separated_items,
    separated_keys,
)
from tests.conftest import Database, FakeClock

YES = ConsentEvidence(granted=True, method="web-form")
OFFICER = Actor(name="officer", kind="token", purposes=frozenset({"complaints"}))
AUDITOR = Actor(name="auditor", kind="token", purposes=frozenset({"hold:complaints"}))


class Crash(Exception):
    """What the injected step raises: the process dying at that point."""


def count(database: Database, table: object, collection_id: str) -> int:
    column = table.c.collection_id  # type: ignore[attr-defined]
    with database.engine.connect() as connection:
        query = select(func.count()).select_from(table).where(column == collection_id)  # type: ignore[arg-type]
        return int(connection.execute(query).scalar_one())


def separated_copy(database: Database, collection_id: str) -> tuple[int, int]:
    """(keys, items) of the collection in the separated store."""
    return count(database, separated_keys, collection_id), count(
        database, separated_items, collection_id
    )


def state_of(database: Database, collection_id: str) -> str:
    with database.engine.connect() as connection:
        return str(
            connection.execute(
                select(collections.c.state).where(collections.c.id == collection_id)
            ).scalar_one()
        )


def separate(engine: Engine, clock: FakeClock, person: dict[str, str]) -> str:
    """A complaints collection moved to the separated store by the sweep; its id."""
    result = engine.collect(purpose="complaints", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=366)
    assert engine.sweep().separated == 1
    return result.collection_id


def test_destroying_separated_data_before_its_hold_ends_is_refused_and_logged(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It refuses every actor, the purpose's own included, with LEGAL_HOLD and an event."""
    collection_id = separate(engine, clock, person)
    for actor in (OFFICER, AUDITOR, SYSTEM):
        with pytest.raises(AccessDenied) as caught:
            engine.destroy(collection_id, actor=actor)
        assert caught.value.code == "LEGAL_HOLD"
        assert caught.value.audit_event_id is not None
    refusals = [e for e in engine.events() if e.action == "destroy"]
    assert [(e.actor, e.outcome, e.code) for e in refusals] == [
        ("system", "denied", "LEGAL_HOLD"),
        ("auditor", "denied", "LEGAL_HOLD"),
        ("officer", "denied", "LEGAL_HOLD"),
    ]
    assert {e.collection_id for e in refusals} == {collection_id}
    assert state_of(database, collection_id) == "separated"
    assert separated_copy(database, collection_id) == (1, 6)
    assert engine.certificates() == []


def test_after_the_hold_only_its_purpose_destroys_and_the_copies_go_with_the_certificate(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It refuses the plain purpose (NO_GRANT); the hold's purpose destroys, copies and all."""
    collection_id = separate(engine, clock, person)
    clock.advance(days=3 * 366)
    with pytest.raises(AccessDenied) as caught:
        engine.destroy(collection_id, actor=OFFICER)
    assert caught.value.code == "NO_GRANT"
    assert separated_copy(database, collection_id) == (1, 6)
    result = engine.destroy(collection_id, actor=AUDITOR)
    assert (result.item_names, result.already_destroyed) == (sorted(person), False)
    assert state_of(database, collection_id) == "destroyed"
    assert separated_copy(database, collection_id) == (0, 0)
    [certificate] = engine.certificates()
    assert (certificate.collection_id, certificate.reason) == (collection_id, "hold_ended")
    assert certificate.items == sorted(person)
    destroyed = [e for e in engine.events() if e.action == "destroy" and e.outcome == "allowed"]
    assert [(e.actor, e.collection_id) for e in destroyed] == [("auditor", collection_id)]


def test_a_failed_destruction_of_separated_data_changes_nothing(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It keeps the separated copy and writes no certificate when certifying fails midway."""
    collection_id = separate(engine, clock, person)
    clock.advance(days=3 * 366)
    # A certificate already there makes the new one fail (one per collection): the
    # copies, deleted earlier in the same transaction, must come back with it.
    with database.engine.begin() as connection:
        certify_manual(
            connection,
            collection_id=collection_id,
            subject_id="someone",
            purpose="complaints",
            item_names=[],
            destroyed_by="test",
            now=clock.now,
        )
    with pytest.raises(IntegrityError):
        engine.destroy(collection_id, actor=AUDITOR)
    assert state_of(database, collection_id) == "separated"
    assert separated_copy(database, collection_id) == (1, 6)
    with database.engine.begin() as connection:
        connection.execute(delete(destruction_certificates))
        connection.execute(delete(destruction_batches))
    engine.destroy(collection_id, actor=AUDITOR)
    assert separated_copy(database, collection_id) == (0, 0)


def test_a_sweep_dying_between_certificate_and_separated_delete_leaves_both_intact(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It leaves no certificate beside a live separated key; the next sweep finishes."""
    collection_id = separate(engine, clock, person)
    clock.advance(days=3 * 366)

    def die_after_certifying(step: str, ids: list[str]) -> None:
        if step == "certified":
            raise Crash(step)

    dying = Sweeper(
        database.engine, policy=engine.policy.policy, keys=engine.keys, between=die_after_certifying
    )
    with pytest.raises(Crash):
        dying.run(now=clock.now)
    assert state_of(database, collection_id) == "separated"
    assert separated_copy(database, collection_id) == (1, 6)
    assert engine.certificates() == []
    assert engine.sweep().destroyed == 1
    assert state_of(database, collection_id) == "destroyed"
    assert separated_copy(database, collection_id) == (0, 0)
    assert [c.collection_id for c in engine.certificates()] == [collection_id]
