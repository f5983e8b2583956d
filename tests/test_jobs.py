"""Background jobs of `haechi serve`: run at start, then on their interval, until stopped."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from haechi import Engine
from haechi.jobs import (
    SEALER,
    SERVER_JOBS,
    AdvisoryLocks,
    BackgroundJobs,
    FileLocks,
    Job,
    JobLocks,
    RoundStopped,
    job_locks,
)
from haechi.storage.tables import collections
from tests.conftest import Database, FakeClock
from tests.retention.conftest import check_all_or_nothing, seed


def test_a_job_runs_at_start_and_stops() -> None:
    """It runs each job at once in the background, and stops when asked."""
    ran = threading.Event()
    jobs = BackgroundJobs([Job("sweep", 3600, ran.set)])
    jobs.start()
    assert ran.wait(timeout=30)
    jobs.stop()


def test_a_job_survives_a_failing_round() -> None:
    """It keeps a job's thread alive when a round raises, to retry at the next tick."""
    calls: list[int] = []
    second = threading.Event()

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")
        second.set()

    jobs = BackgroundJobs([Job("flaky", 0.01, flaky)])
    jobs.start()
    assert second.wait(timeout=30)
    jobs.stop()
    assert len(calls) >= 2


def test_server_jobs_follow_the_settings(engine: Engine, database: Database) -> None:
    """It schedules the sweep, the checkpoint and the key job only when their intervals are set.

    The WAL checkpoint is SQLite's alone.
    """
    engine.settings.retention.sweep_interval_seconds = 0
    engine.settings.keys.job_interval_seconds = 0
    engine.settings.database.checkpoint_interval_seconds = 0
    jobs = [job.name for job in BackgroundJobs.for_engine(engine).jobs]
    assert jobs == ["monitors", "requests", "outbox"]
    engine.settings.retention.sweep_interval_seconds = 60
    engine.settings.keys.job_interval_seconds = 600
    engine.settings.database.checkpoint_interval_seconds = 0.25
    jobs = [job.name for job in BackgroundJobs.for_engine(engine).jobs]
    checkpoint = ["checkpoint"] if database.backend == "sqlite" else []
    assert jobs == ["monitors", "requests", "outbox", "sweep", *checkpoint, "keys"]


class CountingLocks:
    """Real job locks that count how often they were asked (to know a loop has tried)."""

    def __init__(self, locks: JobLocks, asks: int) -> None:
        self.locks = locks
        self.asked = 0
        self.tried = threading.Event()
        self._asks = asks

    def owns(self, name: str) -> bool:
        owned = self.locks.owns(name)
        self.asked += 1
        if self.asked >= self._asks:
            self.tried.set()
        return owned

    def close(self) -> None:
        self.locks.close()


def test_a_job_runs_in_one_process_and_moves_when_it_stops(database: Database) -> None:
    """It runs a job's rounds in the first runner only; the second takes over when it stops.

    Each runner has its own database locks (advisory locks on PostgreSQL, lock files
    beside the SQLite file), as two servers would.
    """
    rounds = {"first": 0, "second": 0}
    ran = {"first": threading.Event(), "second": threading.Event()}

    def counted(who: str) -> Job:
        def run() -> None:
            rounds[who] += 1
            ran[who].set()

        return Job("counted", 0.01, run)

    first = BackgroundJobs([counted("first")], locks=job_locks(database.engine))
    first.start()
    assert ran["first"].wait(timeout=30)
    second_locks = CountingLocks(job_locks(database.engine), asks=5)
    second = BackgroundJobs([counted("second")], locks=second_locks)
    second.start()
    try:
        assert second_locks.tried.wait(timeout=30)
        assert rounds["second"] == 0
        first.stop()
        assert ran["second"].wait(timeout=30)
    finally:
        first.stop()
        second.stop()


def test_registered_server_jobs_take_their_lock(engine: Engine) -> None:
    """It gives every job of a server, and the sealer, the database's job locks."""
    jobs = BackgroundJobs.for_engine(engine)
    names = {job.name for job in SERVER_JOBS}
    assert {job.name for job in jobs.jobs} <= names
    assert SEALER not in names
    expected = AdvisoryLocks if engine.database.dialect.name == "postgresql" else FileLocks
    assert isinstance(jobs.locks, expected)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_locks_on_a_direct_url_exclude_those_on_the_pooled_one(database: Database) -> None:
    """It holds a job's lock on database.locks_url, and the same lock is then taken there."""
    direct = job_locks(database.engine, locks_url=database.url)
    pooled = job_locks(database.engine)
    try:
        assert direct.owns("counted")
        assert not pooled.owns("counted")
        direct.close()
        assert pooled.owns("counted")
    finally:
        direct.close()
        pooled.close()


def test_a_stopping_server_ends_the_sweep_between_two_chunks(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It stops a long sweep at the commit after the stop, whole chunks destroyed, no more.

    A graceful stop waits only so long for the job threads before the sealer seals what
    is left; a sweep still destroying after that would write events no one seals.
    """
    seed(database.engine, engine.keys, count=25, due=clock.now - timedelta(days=1))
    engine.settings.retention.chunk_size = 10
    sweep = next(job for job in SERVER_JOBS if job.name == "sweep").make(engine, None)
    rounds: list[str] = []

    def round_then_stop() -> None:
        # The server is asked to stop while this round starts destroying.
        stopper = threading.Thread(target=jobs.stop)
        stopper.start()
        while not jobs.stopping:
            stopper.join(0.01)
        try:
            sweep()
        except RoundStopped:
            rounds.append("stopped")

    jobs = BackgroundJobs([Job("sweep", 3600, round_then_stop)])
    jobs.start()
    while jobs.running:
        threading.Event().wait(0.05)
    assert rounds == ["stopped"]
    with database.engine.connect() as connection:
        states = Counter(connection.execute(select(collections.c.state)).scalars())
    assert states["destroyed"] == 10  # one chunk committed, then the round ended
    check_all_or_nothing(database.engine)
