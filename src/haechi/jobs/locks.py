"""Who runs which job: each job once, across all worker processes and all servers.

Before every round a job asks the :class:`JobLocks` whether this process owns it; the
first process to ask takes it and keeps it for as long as it lives, and every other
one skips its rounds and asks again at the next interval, so when the owner stops (or
dies, or loses its database connection) another takes over within one interval. Any
job registered in :data:`haechi.jobs.SERVER_JOBS` (or passed to
:class:`haechi.jobs.BackgroundJobs`) gets this by its name:

* PostgreSQL: a session-level advisory lock per job (key: a hash of its name), held
  by one connection of the owning process that stays outside any transaction (an idle
  open transaction would hold back the sealer's gaps and VACUUM). The connection must
  reach PostgreSQL directly or through a pool in *session* mode: in transaction mode
  pgbouncer hands a session's locks to whichever client runs next.
* SQLite: an exclusive ``flock`` per job on a file beside the database, which the
  kernel releases when the owning process ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import IO, ClassVar, Protocol

from sqlalchemy import Connection, func, select
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.exc import SQLAlchemyError

from haechi.storage.database import create_db_engine

__all__ = ["AdvisoryLocks", "FileLocks", "JobLocks", "LocalLocks", "job_locks", "lock_key"]

log = logging.getLogger("haechi.jobs")


class JobLocks(Protocol):
    """Who runs which job: :meth:`owns` is true in exactly one process per job name."""

    def owns(self, name: str) -> bool:
        """Whether this process runs ``name`` now, taking the job if nobody holds it."""
        ...

    def close(self) -> None:
        """Give every job up, for another process to take."""
        ...


def _taken(name: str) -> None:
    log.info("job %s runs in this process (pid %d)", name, os.getpid())


class LocalLocks:
    """Ownership within one process only: for an in-memory database and for tests."""

    _held: ClassVar[dict[str, object]] = {}
    _mutex: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._mine: set[str] = set()

    def owns(self, name: str) -> bool:
        """Whether this object holds ``name``; takes it if no other object does."""
        with self._mutex:
            holder = self._held.setdefault(name, self)
            if holder is self and name not in self._mine:
                self._mine.add(name)
                _taken(name)
            return holder is self

    def close(self) -> None:
        """Release every job this object holds."""
        with self._mutex:
            for name in self._mine:
                self._held.pop(name, None)
            self._mine.clear()


def lock_key(name: str) -> int:
    """The 64-bit advisory lock key of job ``name`` (signed, as PostgreSQL takes it)."""
    digest = hashlib.sha256(f"haechi-job:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLocks:
    """PostgreSQL: one session-level advisory lock per job, on one dedicated connection."""

    def __init__(self, database: SqlEngine, *, owned: bool = False):
        self._database = database
        self._owned = owned  # an engine of its own (database.locks_url), disposed on close
        self._connection: Connection | None = None
        self._held: set[str] = set()
        self._mutex = threading.Lock()

    def owns(self, name: str) -> bool:
        """Whether this process holds the job's lock; tries to take it if not.

        A held lock is confirmed by a round trip on its connection: if the session is
        gone, so is the lock (the server released it), and this process owns nothing.
        """
        with self._mutex:
            try:
                connection = self._connect()
                if name in self._held:
                    connection.execute(select(1))
                    return True
                if connection.execute(select(func.pg_try_advisory_lock(lock_key(name)))).scalar():
                    self._held.add(name)
                    _taken(name)
                    return True
                return False
            except SQLAlchemyError as exc:
                log.warning("job lock for %s lost: %s", name, type(exc).__name__)
                self._drop()
                return False

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self._database.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        return self._connection

    def _drop(self) -> None:
        self._held.clear()
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except SQLAlchemyError:
                pass
            self._connection = None

    def close(self) -> None:
        """Release every lock by ending the session."""
        with self._mutex:
            if self._connection is not None:
                try:
                    self._connection.execute(select(func.pg_advisory_unlock_all()))
                    self._connection.close()
                except SQLAlchemyError:
                    self._drop()
            self._connection = None
            self._held.clear()
            if self._owned:
                self._database.dispose()


class FileLocks:
    """SQLite: an exclusive ``flock`` per job on ``<directory>/<name>.lock``."""

    def __init__(self, directory: Path):
        self._directory = directory
        self._files: dict[str, IO[bytes]] = {}
        self._mutex = threading.Lock()

    def owns(self, name: str) -> bool:
        """Whether this process holds the job's lock file; tries to take it if not."""
        with self._mutex:
            if name in self._files:
                return True
            self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle = open(self._directory / f"{name}.lock", "ab")  # noqa: SIM115 - held open
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._files[name] = handle
            _taken(name)
            return True

    def close(self) -> None:
        """Release every lock (closing a file releases its flock)."""
        with self._mutex:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


def job_locks(database: SqlEngine, *, locks_url: str | None = None) -> JobLocks:
    """The job locks for ``database``: advisory locks, lock files, or in-process.

    On PostgreSQL the locks live on ``locks_url`` when given (``database.locks_url``:
    a direct connection beside a transaction-mode pooler), else on ``database``.
    """
    if database.dialect.name == "postgresql":
        if locks_url:
            direct = create_db_engine(locks_url, pool_size=1, max_overflow=0)
            return AdvisoryLocks(direct, owned=True)
        return AdvisoryLocks(database)
    path = database.url.database
    if path and path != ":memory:":
        return FileLocks(Path(path).resolve().with_name("haechi-jobs"))
    return LocalLocks()
