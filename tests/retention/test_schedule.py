"""The sweep schedule of ``haechi serve``: runs at start, then on its interval, until stopped."""

from __future__ import annotations

import threading

from haechi.retention.schedule import SweepSchedule


def test_schedule_sweeps_at_start_and_stops() -> None:
    """It runs the sweep in the background at once and stops when asked."""
    ran = threading.Event()
    schedule = SweepSchedule(ran.set, interval=3600)
    schedule.start()
    assert ran.wait(timeout=30)
    schedule.stop()
    assert schedule.runs == 1


def test_schedule_survives_a_failing_sweep() -> None:
    """It keeps its thread alive when a sweep raises, to retry at the next tick."""
    calls: list[int] = []
    second = threading.Event()

    def sweep() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")
        second.set()

    schedule = SweepSchedule(sweep, interval=0.01)
    schedule.start()
    assert second.wait(timeout=30)
    schedule.stop()
    assert len(calls) >= 2


def test_interval_zero_disables_the_schedule() -> None:
    """It never starts a thread when the interval is 0 (as tests and some deployments want)."""
    schedule = SweepSchedule(lambda: None, interval=0)
    schedule.start()
    schedule.stop()
    assert schedule.runs == 0
