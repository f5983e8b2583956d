"""A subject with nothing left is no longer findable: their digests go with the last data."""

from __future__ import annotations

from sqlalchemy import func, select

from haechi import ConsentEvidence, Engine
from haechi.engine import SYSTEM
from haechi.storage.tables import subject_lookups
from tests.conftest import Database, FakeClock

YES = ConsentEvidence(granted=True, method="web-form")


def digests_of(database: Database, subject_id: str) -> int:
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(subject_lookups)
                .where(subject_lookups.c.subject_id == subject_id)
            ).scalar_one()
        )


def test_destroying_the_last_collection_forgets_the_digests(
    engine: Engine, database: Database, person: dict[str, str]
) -> None:
    """It keeps the digests while any data is live and drops them with the last of it."""
    service = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    marketing = engine.collect(purpose="marketing", items=person, consent=YES, actor=SYSTEM)
    subject = service.subject_id
    assert digests_of(database, subject) == 2  # email and phone
    engine.destroy(service.collection_id, actor=SYSTEM)
    assert digests_of(database, subject) == 2
    assert engine.find_subject(actor=SYSTEM, kind="email", value=person["email"]) == subject
    engine.destroy(marketing.collection_id, actor=SYSTEM)
    assert digests_of(database, subject) == 0
    assert engine.find_subject(actor=SYSTEM, kind="email", value=person["email"]) is None
    # Coming back later, the person starts afresh: nothing links them to the old id.
    again = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    assert again.subject_id != subject


def test_the_sweep_forgets_only_subjects_left_with_nothing(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It drops a swept subject's digests, and leaves a co-holder of their phone alone."""
    gone = engine.collect(purpose="marketing", items=person, consent=YES, actor=SYSTEM)
    clock.advance(days=200)  # past marketing's six months, not service's year
    other = dict(person, email="colleague@example.kr")  # the same office phone
    kept = engine.collect(purpose="service", items=other, consent=YES, actor=SYSTEM)
    assert kept.subject_id != gone.subject_id
    clock.advance(days=10)  # past the grace days as well
    assert engine.sweep().destroyed == 1
    assert digests_of(database, gone.subject_id) == 0
    assert digests_of(database, kept.subject_id) == 2
    found = engine.find_subject(actor=SYSTEM, kind="phone", value=person["contact"])
    assert found == kept.subject_id
