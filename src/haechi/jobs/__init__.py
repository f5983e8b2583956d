"""Background jobs of ``haechi serve``: sealing the log, monitors, the mail outbox, clocks.

Light jobs run in threads, each at its own interval. The sealer runs in its own
process (``haechi audit seal --follow``): hashing thousands of events in a thread of
the server would hold the interpreter lock in the middle of every request (measured
in docs/benchmarks.md). A failing round is logged by exception type only (never
values) and retried at the next interval.

**Each job runs once, across all worker processes and all servers**: see
:mod:`haechi.jobs.locks`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from haechi.access.decision import Actor
from haechi.config import Settings
from haechi.engine import Engine
from haechi.jobs.locks import AdvisoryLocks, FileLocks, JobLocks, LocalLocks, job_locks
from haechi.mail import Notifier, SmtpNotifier, mail_alerts
from haechi.mail.outbox import deliver_due
from haechi.mail.recorded import ON_SENT
from haechi.storage.database import checkpoint

__all__ = [
    "SERVER_JOBS",
    "AdvisoryLocks",
    "BackgroundJobs",
    "FileLocks",
    "Job",
    "JobLocks",
    "LocalLocks",
    "SealerProcess",
    "job_locks",
]

log = logging.getLogger("haechi.jobs")

KEY_JOB = Actor(name="keys", kind="system", purposes=frozenset())


@dataclass(frozen=True)
class Job:
    """A named function run every ``interval`` seconds, by one process at a time."""

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

    def restart_if_ended(self) -> bool:
        """Start the child again if it ended on its own; whether it had to be.

        A sealer that could not open the database (a full disk at its start, the
        database down) ends with exit code 2; without a new one nothing would be sealed
        until the server restarts.
        """
        if self._process is None or self._process.poll() is None:
            return False
        log.error(
            "the sealer process ended (exit code %s); starting it again", self._process.returncode
        )
        self.start()
        return True

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


def _monitors(engine: Engine, notifier: Notifier | None) -> Callable[[], object]:
    def monitors() -> None:
        engine.run_monitors()
        # Claimed by a conditional update: one alert per incident across servers.
        engine.check_incident_deadlines()
        if notifier is not None:
            mail_alerts(engine, notifier)

    return monitors


def _outbox(engine: Engine, notifier: Notifier | None) -> Callable[[], object]:
    def outbox() -> None:
        # Each message is claimed by a conditional update: sent once across servers.
        # Without a mail server, messages wait in the outbox until one is set.
        if notifier is not None:
            deliver_due(engine, notifier, on_sent=ON_SENT)

    return outbox


def _requests_clock(engine: Engine, _notifier: Notifier | None) -> Callable[[], object]:
    def requests_clock() -> None:
        # Each alert is also claimed by a conditional update: never mailed twice.
        engine.check_request_deadlines()
        engine.purge_requests()

    return requests_clock


class RoundStopped(Exception):
    """The server is stopping: a long round ends at its next commit point."""


#: The stop event of the job loop running in this thread (set by ``BackgroundJobs``).
_this_loop = threading.local()


def _stop_point(_stage: str, _done: int, _total: int) -> None:
    """Called after each committed chunk: end the round here if the server is stopping."""
    stop: threading.Event | None = getattr(_this_loop, "stop", None)
    if stop is not None and stop.is_set():
        raise RoundStopped


def _sweep(engine: Engine, _notifier: Notifier | None) -> Callable[[], object]:
    def sweep() -> None:
        # A sweep of many collections outlasts a shutdown's wait: it stops between two
        # chunks (each committed whole), and the next server's sweep goes on from there.
        engine.sweep(progress=_stop_point)

    return sweep


@dataclass(frozen=True)
class ServerJob:
    """A job every server schedules: its name, interval (≤ 0: off) and round.

    A ``sqlite_only`` job is not scheduled on PostgreSQL.
    """

    name: str
    interval: Callable[[Settings], float]
    make: Callable[[Engine, Notifier | None], Callable[[], object]]
    sqlite_only: bool = False


#: The jobs of ``haechi serve``; one registered here runs once across all servers.
SERVER_JOBS: list[ServerJob] = [
    ServerJob("monitors", lambda settings: settings.monitor.interval_seconds, _monitors),
    ServerJob("requests", lambda settings: settings.monitor.interval_seconds, _requests_clock),
    ServerJob("outbox", lambda settings: settings.mail.outbox_interval_seconds, _outbox),
    ServerJob("sweep", lambda settings: settings.retention.sweep_interval_seconds, _sweep),
    # SQLite's WAL into the database file, off the requests' path (Engine.open(serving=)):
    # a PASSIVE checkpoint takes no lock, unlike the one a commit runs past SQLite's
    # threshold, which the committing request waits for.
    ServerJob(
        "checkpoint",
        lambda settings: settings.database.checkpoint_interval_seconds,
        lambda engine, _notifier: partial(checkpoint, engine.database),
        sqlite_only=True,
    ),
    # Rotates epochs whose keys were shredded, destroys expired epoch keys.
    ServerJob(
        "keys",
        lambda settings: settings.keys.job_interval_seconds,
        lambda engine, _notifier: partial(engine.run_keys, actor=KEY_JOB),
    ),
]
#: How often the server checks that its sealer process still runs.
PROCESS_WATCH_SECONDS = 5.0
#: The job name the sealer process holds (``haechi audit seal --follow``).
SEALER = "sealer"


class BackgroundJobs:
    """Runs jobs in daemon threads (and the sealer in a process) until stopped.

    A job's round runs only in the process that owns it (see :class:`JobLocks`).
    """

    def __init__(
        self,
        jobs: list[Job],
        *,
        processes: list[SealerProcess] | None = None,
        locks: JobLocks | None = None,
    ):
        self.jobs = jobs
        self.processes = processes or []
        self.locks: JobLocks = locks if locks is not None else LocalLocks()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @classmethod
    def for_engine(cls, engine: Engine, *, notifier: Notifier | None = None) -> BackgroundJobs:
        """The standard jobs of a server: sealing, monitors that mail their alerts, the rest."""
        settings = engine.settings
        if notifier is None and settings.mail.smtp_host:
            notifier = SmtpNotifier(settings.mail)
        sqlite = engine.database.dialect.name == "sqlite"
        jobs = [
            Job(job.name, job.interval(settings), job.make(engine, notifier))
            for job in SERVER_JOBS
            if job.interval(settings) > 0 and (sqlite or not job.sqlite_only)
        ]
        locks = job_locks(engine.database, locks_url=settings.database.locks_url)
        return cls(jobs, processes=[SealerProcess(engine)], locks=locks)

    def start(self) -> None:
        """Start the processes (and their watch), and one thread per job."""
        for process in self.processes:
            process.start()
        if self.processes:
            watch = threading.Thread(target=self._watch, name="haechi-processes", daemon=True)
            watch.start()
            self._threads.append(watch)
        for job in self.jobs:
            thread = threading.Thread(
                target=self._loop, args=(job,), name=f"haechi-{job.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """Whether a job's thread is still running."""
        return any(thread.is_alive() for thread in self._threads)

    def _loop(self, job: Job) -> None:
        _this_loop.stop = self._stop
        while not self._stop.is_set():
            try:
                if self.locks.owns(job.name):
                    job.run()
            except RoundStopped:
                log.info("job %s stopped between two commits: the server is stopping", job.name)
            except Exception as exc:
                log.error("job %s failed: %s", job.name, type(exc).__name__)
            self._stop.wait(job.interval)

    def _watch(self) -> None:
        while not self._stop.wait(PROCESS_WATCH_SECONDS):
            for process in self.processes:
                try:
                    process.restart_if_ended()
                except OSError as exc:  # no process could be started: try again later
                    log.error("starting the sealer failed: %s", type(exc).__name__)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every job to stop, wait for the current rounds to end, give the jobs up."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        for process in self.processes:
            process.stop(timeout)
        self.locks.close()
