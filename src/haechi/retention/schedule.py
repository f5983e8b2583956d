"""Running the sweep on a schedule, in a background thread of ``haechi serve``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["SweepSchedule"]

log = logging.getLogger("haechi.retention")


class SweepSchedule:
    """Calls ``sweep`` at start, then every ``interval`` seconds, until stopped.

    A failed sweep is logged (its type only: messages could name data) and retried at
    the next tick; the sweep itself is crash-safe, so a retry finishes the work. With
    many servers on PostgreSQL, every one may run this: chunks are claimed with SKIP
    LOCKED, so they share the work instead of repeating it.
    """

    def __init__(self, sweep: Callable[[], object], *, interval: float):
        self._sweep = sweep
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        """Start the background thread (nothing happens when the interval is 0)."""
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="haechi-sweep", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sweep()
            except Exception as exc:  # a job must survive its failures
                log.error("scheduled sweep failed: %s", type(exc).__name__)
            self.runs += 1
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 30) -> None:
        """Ask the thread to stop after the current sweep, and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
