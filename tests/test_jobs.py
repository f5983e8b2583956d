"""Background jobs of `haechi serve`: run at start, then on their interval, until stopped."""

from __future__ import annotations

import threading

from haechi import Engine
from haechi.jobs import BackgroundJobs, Job


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


def test_server_jobs_follow_the_settings(engine: Engine) -> None:
    """It schedules the sweep only when its interval is set; monitors and deadlines always."""
    engine.settings.retention.sweep_interval_seconds = 0
    jobs = [job.name for job in BackgroundJobs.for_engine(engine).jobs]
    assert jobs == ["monitors", "requests"]
    engine.settings.retention.sweep_interval_seconds = 60
    jobs = [job.name for job in BackgroundJobs.for_engine(engine).jobs]
    assert jobs == ["monitors", "requests", "sweep"]
