"""Background jobs of ``haechi serve``: sealing the log, monitors, whatever runs on a clock.

Light jobs run in threads, each at its own interval. The sealer runs in its own
process (``haechi audit seal --follow``): hashing thousands of events in a thread of
the server would hold the interpreter lock in the middle of every request (measured
in docs/benchmarks.md). Jobs coordinate with other servers through the database (the
sealer's advisory lock), so any number of servers may run them. A failing round is
logged by exception type only (never values) and retried at the next interval.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from haechi.engine import Engine
from haechi.mail import Notifier, SmtpNotifier, mail_alerts

__all__ = ["BackgroundJobs", "Job", "SealerProcess"]

log = logging.getLogger("haechi.jobs")


@dataclass(frozen=True)
class Job:
    """A named function run every ``interval`` seconds."""

    name: str
    interval: float
    run: Callable[[], object]


class SealerProcess:
    """``haechi audit seal --follow`` as a child process of the server."""

    def __init__(self, engine: Engine):
        self.engine = engine
        settings = engine.settings
        self.command = [
            sys.executable,
            "-m",
            "haechi.cli",
            "audit",
            "seal",
            "--follow",
            "--data",
            str(settings.data_dir),
        ]
        # The URL goes by environment, not argv: it may hold a password.
        self.environment = {**os.environ, "HAECHI__DATABASE__URL": settings.database_url}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the child."""
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.command, stdout=subprocess.DEVNULL, env=self.environment
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the child, then seal what is left here, so nothing stays unsealed."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        try:
            self.engine.seal_all()
        except Exception as exc:
            log.error("sealing on shutdown failed: %s", type(exc).__name__)


class BackgroundJobs:
    """Runs jobs in daemon threads (and the sealer in a process) until stopped."""

    def __init__(self, jobs: list[Job], *, processes: list[SealerProcess] | None = None):
        self.jobs = jobs
        self.processes = processes or []
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

        def requests_clock() -> None:
            # Each alert is claimed by a conditional update: once across servers.
            engine.check_request_deadlines()
            engine.purge_requests()

        jobs = [
            Job("monitors", settings.monitor.interval_seconds, monitors),
            Job("requests", settings.monitor.interval_seconds, requests_clock),
        ]
        if settings.retention.sweep_interval_seconds > 0:
            # Crash-safe and chunked with SKIP LOCKED: every server may run it.
            jobs.append(Job("sweep", settings.retention.sweep_interval_seconds, engine.sweep))
        return cls(jobs, processes=[SealerProcess(engine)])

    def start(self) -> None:
        """Start the processes, and one thread per job."""
        for process in self.processes:
            process.start()
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
        for process in self.processes:
            process.stop(timeout)
