"""Late commits (PostgreSQL): an event whose transaction outlives the margin is sealed.

Ids come from a sequence when a row is inserted, so a transaction may commit long
after higher ids were sealed. The rounds are driven by hand and the margin is zero,
so every open transaction here has outlived it by the database's own clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, select, text, update

from haechi import Engine
from haechi.audit.events import record_event
from haechi.storage.tables import audit_gaps, audit_leaves
from tests.conftest import Database, FakeClock


@pytest.fixture
def late(engine: Engine, database: Database) -> Engine:
    """An engine on PostgreSQL whose sealer margin has always passed."""
    if database.backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: ids always commit in order")
    engine.settings.audit.seal_margin_seconds = 0
    return engine


@contextmanager
def open_transaction(database: Database) -> Iterator[Connection]:
    """A second, real connection whose transaction stays open for the block."""
    connection = database.engine.connect()
    try:
        connection.begin()
        yield connection
    finally:
        connection.close()


def download(connection: Connection, clock: FakeClock, actor: str) -> int:
    return record_event(
        connection,
        now=clock.now,
        actor=actor,
        actor_kind="staff",
        action="download",
        subject_id="subject-1",
        purpose="service",
        reason="ticket 7",
    )


def sealed_ids(engine: Engine) -> set[int]:
    with engine.database.connect() as connection:
        return set(connection.execute(select(audit_leaves.c.event_id)).scalars())


def test_an_event_committed_past_the_margin_is_sealed_verified_and_monitored(
    late: Engine, database: Database, clock: FakeClock
) -> None:
    """It seals an event committed after the margin, verify passes, the monitors see it."""
    with open_transaction(database) as slow:
        slow_id = download(slow, clock, "slow")
        with late.transaction() as connection:
            download(connection, clock, "fast")
        assert late.seal().sealed == 1
        assert late.tree_heads()[-1].sealed_through < slow_id  # still awaited
        assert late.verify_log().ok
        assert {alert.actor for alert in late.run_monitors()} == {"fast"}
        slow.commit()
    result = late.seal()
    assert result.sealed == 1
    assert slow_id in sealed_ids(late)
    report = late.verify_log()
    assert report.ok, report.problems
    assert report.size == 2
    assert late.prove(slow_id).verify()
    alerts = late.run_monitors()
    assert [(alert.actor, alert.detail["event_id"]) for alert in alerts] == [("slow", slow_id)]


def test_more_stragglers_than_a_batch_never_push_the_watermark_past_them(
    late: Engine, database: Database, clock: FakeClock
) -> None:
    """It keeps the signed watermark below every late event a full batch left unsealed."""
    late.settings.audit.seal_batch = 2
    with open_transaction(database) as slow:
        stragglers = [download(slow, clock, "slow") for _ in range(5)]
        with late.transaction() as connection:
            download(connection, clock, "fast")
        assert late.seal().sealed == 1
        slow.commit()
    for _ in range(2):
        assert late.seal().sealed == 2
        unsealed = set(stragglers) - sealed_ids(late)
        assert late.tree_heads()[-1].sealed_through < min(unsealed)
        report = late.verify_log()
        assert report.ok, report.problems
    assert late.seal_all() == 1
    assert set(stragglers) <= sealed_ids(late)
    report = late.verify_log()
    assert report.ok, report.problems
    assert report.size == 6


def test_a_forged_insertion_into_an_awaited_id_is_not_sealed_and_is_flagged(
    late: Engine, database: Database, clock: FakeClock
) -> None:
    """It tells a forged event in a still-awaited id from a late commit, and flags it."""
    with open_transaction(database) as slow:
        awaited = download(slow, clock, "slow")
        with late.transaction() as connection:
            download(connection, clock, "fast")
        late.seal()
        slow.rollback()  # the id will never be committed by its transaction…
    with late.transaction() as connection:  # …but a forger writes it afterwards
        connection.execute(
            text(
                "INSERT INTO audit_events (id, occurred_at, actor, actor_kind, action, items, "
                "outcome) VALUES (:id, now(), 'kim', 'staff', 'download', '[]', 'allowed')"
            ),
            {"id": awaited},
        )
        record_event(connection, now=clock.now, actor="kim", actor_kind="staff", action="view")
    assert late.seal().sealed == 1  # the new event only
    assert awaited not in sealed_ids(late)
    # Every transaction that could have held the id has finished: as if the cluster
    # had gone quiet (other databases' transactions may hold the real horizon back).
    with late.transaction() as connection:
        connection.execute(update(audit_gaps).values(horizon=0))
        record_event(connection, now=clock.now, actor="kim", actor_kind="staff", action="view")
    assert late.seal().sealed == 1
    assert awaited not in sealed_ids(late)
    assert late.tree_heads()[-1].sealed_through >= awaited
    report = late.verify_log()
    assert not report.ok
    assert any(f"event {awaited} " in problem for problem in report.problems)
