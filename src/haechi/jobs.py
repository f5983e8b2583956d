"""Background jobs of ``haechi serve``: sealing the log, and whatever else runs on a clock.

Each job runs in its own thread at its own interval and coordinates with other
servers through the database (the sealer's advisory lock), so any number of servers
may run them. A failing round is logged by exception type only (never values) and
retried at the next interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from haechi.engine import Engine
from haechi.mail import Notifier, SmtpNotifier, mail_alerts

__all__ = ["BackgroundJobs", "Job"]

log = logging.getLogger("haechi.jobs")


@dataclass(frozen=True)
class Job:
    """A named function run every ``interval`` seconds."""

    name: str
    interval: float
    run: Callable[[], object]
    final_round: bool = False


class BackgroundJobs:
    """Runs jobs in daemon threads until stopped."""

    def __init__(self, jobs: list[Job]):
        self.jobs = jobs
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @classmethod
    def for_engine(cls, engine: Engine, *, notifier: Notifier | None = None) -> BackgroundJobs:
        """The standard jobs of a server: sealing, and monitors that mail their alerts."""
        settings = engine.settings
        if notifier is None and settings.mail.smtp_host:
            notifier = SmtpNotifier(settings.mail)

        def monitors() -> None:
            engine.run_monitors()
            if notifier is not None:
                mail_alerts(engine, notifier)

        return cls(
            [
                # Sealing once more on the way out leaves no event of this server unsealed.
                Job("seal", settings.audit.seal_interval_seconds, engine.seal_all, True),
                Job("monitors", settings.monitor.interval_seconds, monitors),
            ]
        )

    def start(self) -> None:
        """Start one thread per job."""
        for job in self.jobs:
            thread = threading.Thread(
                target=self._loop, args=(job,), name=f"haechi-{job.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _loop(self, job: Job) -> None:
        while not self._stop.is_set():
            try:
                job.run()
            except Exception as exc:
                log.error("job %s failed: %s", job.name, type(exc).__name__)
            self._stop.wait(job.interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every job to stop and wait for the current rounds to end."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        for job in self.jobs:
            if job.final_round:
                try:
                    job.run()
                except Exception as exc:
                    log.error("job %s failed on shutdown: %s", job.name, type(exc).__name__)
