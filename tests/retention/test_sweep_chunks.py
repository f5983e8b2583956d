"""On SQLite the sweep's chunks queue with the server's writers and are sized by time."""

from __future__ import annotations

import threading

import pytest

from haechi import ConsentEvidence, Engine
from haechi.engine import SYSTEM
from haechi.retention import Sweeper
from haechi.retention import sweep as sweep_module
from haechi.storage.prepared import writer_lock
from tests.conftest import Database, FakeClock

YES = ConsentEvidence(granted=True, method="web-form")


def _due(engine: Engine, clock: FakeClock, person: dict[str, str], count: int) -> None:
    for n in range(count):
        items = dict(person, email=f"chunk{n}@example.kr", contact=f"010-3000-{n:04d}")
        engine.collect(purpose="service", items=items, consent=YES, actor=SYSTEM)
    clock.advance(days=400)


def test_a_chunk_waits_for_the_writers_lock_on_sqlite_only(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """SQLite: the chunk queues behind a writer. PostgreSQL: its row locks are enough."""
    _due(engine, clock, person, 3)
    sweeper = Sweeper(database.engine, policy=engine.policy.policy, keys=engine.keys)
    done = threading.Event()
    reports: list[int] = []

    def sweep() -> None:
        reports.append(sweeper.run(now=clock.now).destroyed)
        done.set()

    with writer_lock(database.engine):  # a writer of the server, in the lock
        worker = threading.Thread(target=sweep)
        worker.start()
        if database.backend == "sqlite":
            assert not done.wait(0.5)  # the sweep's first chunk queues behind it
        else:
            assert done.wait(30)  # done while the lock is still held
    assert done.wait(30)
    worker.join(30)
    assert reports == [3]


def test_chunks_shrink_to_their_time_and_never_pass_chunk_size(
    engine: Engine,
    database: Database,
    clock: FakeClock,
    person: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _due(engine, clock, person, 12)
    # Every chunk "takes" 10× its target: the next one is a tenth of it, down to the floor.
    monkeypatch.setattr(sweep_module, "CHUNK_SECONDS", 1e-6)
    monkeypatch.setattr(sweep_module, "MIN_CHUNK", 4)
    sweeper = Sweeper(database.engine, policy=engine.policy.policy, keys=engine.keys, chunk_size=10)
    assert sweeper.run(now=clock.now).destroyed == 12
    if database.backend == "sqlite":
        assert sweeper._size == 4
    else:
        assert sweeper._size == 10  # not adapted: row locks do not hold readers back
