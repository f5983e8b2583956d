"""A re-collection racing the sweep's separation: the newer data is never lost."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from haechi import ConsentEvidence, Engine
from haechi.engine import SYSTEM
from haechi.retention import Sweeper
from haechi.storage.tables import audit_events, collections, separated_items, separated_keys
from tests.conftest import Database, FakeClock

YES = ConsentEvidence(granted=True, method="web-form")


def separated_rows(database: Database) -> tuple[int, int]:
    with database.engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (separated_keys, separated_items)
        )


def separate_events(database: Database) -> int:
    with database.engine.connect() as connection:
        query = select(func.count()).where(audit_events.c.action == "separate")
        return int(connection.execute(query).scalar_one())


def test_recollection_between_copy_and_delete_keeps_the_new_data(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It keeps a collection given again after the copy live, new values readable, no copy.

    On PostgreSQL the claim's row lock holds the re-collection off until the chunk
    commits, so the step between copy and delete is proved locked instead.
    """
    first = engine.collect(purpose="complaints", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=366)
    newer = dict(person, title="과장")
    seen: list[str] = []

    def recollect(step: str, ids: list[str]) -> None:
        if step != "copied":
            return
        seen.append(step)
        if database.backend == "postgresql":
            with database.engine.connect() as other, pytest.raises(OperationalError):
                other.execute(
                    select(collections.c.id)
                    .where(collections.c.id.in_(ids))
                    .with_for_update(nowait=True)
                )
            return
        again = engine.collect(purpose="complaints", items=newer, consent=YES, actor=SYSTEM)
        assert (again.collection_id, again.created) == (first.collection_id, False)

    sweeper = Sweeper(
        database.engine, policy=engine.policy.policy, keys=engine.keys, between=recollect
    )
    report = sweeper.run(now=clock.now)
    assert seen == ["copied"]
    info = engine.collection(first.collection_id, actor=SYSTEM)
    if database.backend == "postgresql":
        assert (report.separated, info.state.value) == (1, "separated")
        assert separated_rows(database) == (1, 6)
        return
    assert (report.separated, info.state.value) == (0, "active")
    assert info.due_at > clock.now
    assert engine.use(actor=SYSTEM, subject_id=first.subject_id, purpose="complaints") == newer
    assert separated_rows(database) == (0, 0)
    assert separate_events(database) == 0


def test_recollection_after_the_separation_starts_a_new_collection(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It keeps the separated copy whole and files data given after it as a new collection."""
    first = engine.collect(purpose="complaints", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=366)
    newer = dict(person, title="과장")
    given: list[str] = []

    def recollect_after(step: str, ids: list[str]) -> None:
        given.append(step)

    sweeper = Sweeper(
        database.engine, policy=engine.policy.policy, keys=engine.keys, between=recollect_after
    )
    assert sweeper.run(now=clock.now).separated == 1
    again = engine.collect(purpose="complaints", items=newer, consent=YES, actor=SYSTEM)
    assert again.created
    assert again.collection_id != first.collection_id
    assert given == ["copied"]
    assert separated_rows(database) == (1, 6)
    assert separate_events(database) == 1
    subject = first.subject_id
    assert engine.use(actor=SYSTEM, subject_id=subject, purpose="complaints") == newer
    assert engine.use(actor=SYSTEM, subject_id=subject, purpose="hold:complaints") == person
