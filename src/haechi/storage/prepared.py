"""Prepared statements for the hot path: Core statements compiled once per dialect.

``use()`` runs on every read of personal data, so its few statements are written in
SQLAlchemy Core like every other, compiled once for the database's dialect, and
executed on the DBAPI cursor of a pooled connection. Bind and result values go through
the columns' own type processors, so values are stored exactly as Core would store
them. This removes per-call statement caching and execution-context costs, which
measured several times the database's own work (see docs/benchmarks.md).
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from functools import partial
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, ReturnsRows

__all__ = [
    "PreparedStatement",
    "WriterLock",
    "raw_read",
    "raw_transaction",
    "sqlite_file",
    "translated_errors",
    "writer_lock",
]

log = logging.getLogger("haechi.storage")

Processor = Callable[[Any], Any] | None


class PreparedStatement:
    """One Core statement compiled for one dialect, run on a raw DBAPI cursor."""

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self._names: Sequence[str] | None = (
            list(compiled.positiontup or []) if compiled.positional else None
        )
        # Values the statement carries itself (literals, SQLite's OFFSET 0 after a LIMIT).
        self._defaults: dict[str, Any] = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if not bind.required and bind.effective_value is not None
        }
        self._binds: dict[str, Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in ((key, compiled.binds[key]) for key in compiled.binds)
        }
        columns: list[Any] = []
        if isinstance(statement, ReturnsRows):  # SELECT, or DML with RETURNING
            columns = list(statement.exported_columns)
        processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self._results = [(i, p) for i, p in enumerate(processors) if p is not None]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """Values converted by each column's bind processor, in the dialect's style."""
        given = {**self._defaults, **values}
        converted = {
            name: (processor(given[name]) if processor else given[name])
            for name, processor in self._binds.items()
            if name in given
        }
        if self._names is None:
            return converted
        return [converted[name] for name in self._names]

    def execute(self, cursor: Any, values: Mapping[str, Any]) -> None:
        """Run the statement on ``cursor``."""
        cursor.execute(self.sql, self.parameters(values))

    def execute_many(self, cursor: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row of ``rows``, in one driver call."""
        cursor.executemany(self.sql, [self.parameters(values) for values in rows])

    def fetch(
        self, cursor: Any, values: Mapping[str, Any], *, convert: bool = True
    ) -> list[tuple[Any, ...]]:
        """Run a SELECT (or INSERT … RETURNING) and return its rows.

        With ``convert=False`` rows come as the driver gives them; :meth:`convert`
        then applies the result processors to just the rows that need them.
        """
        self.execute(cursor, values)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        if not convert or not self._results:
            return rows
        return [self.convert(row) for row in rows]

    def convert(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """Apply the columns' result processors to one raw row."""
        if not self._results:
            return row
        values = list(row)
        for index, processor in self._results:
            values[index] = processor(values[index])
        return tuple(values)


@contextmanager
def translated_errors(engine: Engine) -> Iterator[None]:
    """Raise the driver's errors as SQLAlchemy's (``OperationalError`` and the rest).

    Core wraps them on its own connections; here the DBAPI is called directly, so the
    same exception classes reach callers and the API's handlers (a database that went
    down is a 503, not an unexpected error).
    """
    error = engine.dialect.loaded_dbapi.Error
    try:
        yield
    except error as exc:
        raise DBAPIError.instance(
            None,
            None,
            exc,
            error,
            connection_invalidated=engine.dialect.is_disconnect(exc, None, None),
        ) from exc


class WriterLock:
    """The queue of one SQLite database's writers: this process's threads, then its processes.

    A thread first takes the process's own lock, then an exclusive ``flock`` on a file
    beside the database (``<file>-writers``), which every Haechi process writing to it
    takes as well: the workers of ``haechi serve --workers N``, other servers on the
    same file, the CLI, the sweep. A process waiting for it tries again within
    :data:`POLL_MAX_SECONDS`, where SQLite's busy handler sleeps 1 ms, then 2, 5, 10…
    up to 100 ms between tries, which left the writers of two workers idle between each
    other's transactions. The kernel drops the lock of a process that dies.

    - The file is an aid, not the guarantee (SQLite's lock still is): a writer that
      cannot open it (another owner's file, a read-only directory) queues on its
      process's lock alone, and one that waits for it longer than
      :data:`WAIT_SECONDS` (a holder stopped or hung) goes on to SQLite's own lock,
      whose busy timeout then fails the write as ``database is locked``.
    - The file gets the database file's mode and, for a process run as root, its
      owner: as SQLite does for its ``-wal`` and ``-shm`` files.
    - Re-entrant in one thread (``Engine.dispose()`` inside a write, for one): only the
      outermost hold takes and lets go of the file.
    - The sealer's own transactions meet the writers at SQLite's lock; no one holding
      SQLite's write lock ever waits for this one.
    """

    def __init__(self, path: str | None) -> None:
        self._threads = threading.RLock()
        self._depth = 0  # changed only by the thread holding _threads
        self._path = path
        self._file: IO[bytes] | None = None
        self._pid = 0
        self._holding = False

    def _handle(self) -> IO[bytes] | None:
        # Opened in each process that writes: a child made by fork() shares its parent's
        # open file, and with it the parent's flock, so it opens the file again.
        if self._path is not None and self._pid != os.getpid():
            self._pid = os.getpid()
            self._file = _open_beside(self._path)
        return self._file

    def __enter__(self) -> WriterLock:
        self._threads.acquire()
        self._depth += 1
        if self._depth > 1:
            return self
        try:
            handle = self._handle()
            self._holding = handle is not None and _take(handle)
        except BaseException:
            self._depth -= 1
            self._threads.release()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._holding:
                self._holding = False
                assert self._file is not None
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        finally:
            self._threads.release()


#: How long a writer waits for the writers' file before it goes on to SQLite's lock.
WAIT_SECONDS = 30.0
#: The longest pause between two tries for the writers' file.
POLL_MAX_SECONDS = 0.001


def _take(handle: IO[bytes]) -> bool:
    """Take the file's lock, trying again at short pauses; False after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    pause = 0.00005
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                log.warning("the writers' lock file was held for %.0f s; going on", WAIT_SECONDS)
                return False
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX_SECONDS)


def _open_beside(path: str) -> IO[bytes] | None:
    """The writers' file, with its database's mode and owner; None if it cannot be had."""
    database = Path(path.removesuffix("-writers"))
    try:
        found = database.stat()
        mode, owner = stat.S_IMODE(found.st_mode) & 0o666, (found.st_uid, found.st_gid)
    except OSError:
        mode, owner = 0o600, None
    try:
        handle = open(path, "ab", opener=partial(_opener, mode=mode))  # noqa: SIM115
    except OSError as exc:
        log.warning(
            "the writers' lock file cannot be opened (%s): writers queue in this process only",
            type(exc).__name__,
        )
        return None
    with suppress(OSError):  # only the file's owner may change its mode, only root its owner
        os.fchmod(handle.fileno(), mode)
        if owner is not None and os.geteuid() == 0:
            os.fchown(handle.fileno(), *owner)
    return handle


def _opener(path: str, flags: int, *, mode: int) -> int:
    return os.open(path, flags, mode)


_WRITERS: weakref.WeakKeyDictionary[Engine, WriterLock] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def sqlite_file(engine: Engine) -> str | None:
    """The file of ``engine``'s SQLite database; None for a memory one, or PostgreSQL."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    return database


def writer_lock(engine: Engine) -> WriterLock:
    """The lock the writers to ``engine`` (SQLite) queue on, one per engine (:class:`WriterLock`).

    A memory database has no file, and no other process to share it with; PostgreSQL
    has row locks and many writers, and none of its writers queue here.
    """
    with _WRITERS_LOCK:
        lock = _WRITERS.get(engine)
        if lock is None:
            database = sqlite_file(engine)
            lock = _WRITERS[engine] = WriterLock(f"{database}-writers" if database else None)
        return lock


@contextmanager
def raw_transaction(engine: Engine) -> Iterator[Any]:
    """A DBAPI cursor inside one transaction, committed on success, rolled back on error.

    On SQLite (autocommit at the driver, see ``database.py``) the
    transaction is opened with BEGIN IMMEDIATE, as Core transactions are; psycopg
    opens one implicitly on the first statement. On SQLite the threads of this process
    first queue on a lock of their own: a thread waiting in SQLite's busy handler
    sleeps and polls (up to 100 ms between tries) and may lose the write lock to
    newcomers again and again, which left some requests waiting for seconds; a thread
    waiting on the lock is woken as soon as the writer before it is done. Haechi's
    other processes writing this way queue on it too (:class:`WriterLock`); the sealer's
    own transactions still meet at SQLite's lock.

    The audited reads and collections do not come here on SQLite: they commit in
    groups (:mod:`haechi.storage.group_commit`), whose leader takes the same lock.
    """
    sqlite = engine.dialect.name == "sqlite"
    with translated_errors(engine):
        # Checked out and returned outside the lock: the pool's work is not the
        # writers' queue (each request thread has a pooled connection of its own).
        dbapi = engine.raw_connection()
        try:
            cursor = dbapi.cursor()
            try:
                with writer_lock(engine) if sqlite else nullcontext():
                    if sqlite:
                        cursor.execute("BEGIN IMMEDIATE")
                    try:
                        yield cursor
                    except BaseException as exc:
                        _end(dbapi, cursor, engine, exc, sqlite=sqlite)
                        raise
                    if sqlite:
                        cursor.execute("COMMIT")
                    else:
                        dbapi.commit()
            finally:
                cursor.close()
        finally:
            dbapi.close()


def _discarded(dbapi: Any, cursor: Any, engine: Engine, exc: BaseException) -> bool:
    """Whether ``exc`` says the server dropped the connection; if so it is discarded."""
    if isinstance(exc, engine.dialect.loaded_dbapi.Error) and engine.dialect.is_disconnect(
        exc, dbapi.dbapi_connection, cursor
    ):
        dbapi.invalidate(exc)
        return True
    return False


def _end(dbapi: Any, cursor: Any, engine: Engine, exc: BaseException, *, sqlite: bool) -> None:
    """Roll back after ``exc``; a connection the server dropped is discarded, not pooled."""
    if _discarded(dbapi, cursor, engine, exc):
        return
    error = engine.dialect.loaded_dbapi.Error
    try:
        if sqlite:
            cursor.execute("ROLLBACK")
        else:
            dbapi.rollback()
    except error:
        dbapi.invalidate()


@contextmanager
def raw_read(engine: Engine) -> Iterator[Any]:
    """A DBAPI cursor for reads only, on a pooled connection, taking no write lock.

    On SQLite (autocommit, see ``database.py``) each statement reads its own WAL
    snapshot and no transaction is begun; on PostgreSQL the implicit transaction is
    rolled back when the connection goes back to the pool.
    """
    with translated_errors(engine):
        dbapi = engine.raw_connection()
        try:
            cursor = dbapi.cursor()
            try:
                yield cursor
            except BaseException as exc:
                _discarded(dbapi, cursor, engine, exc)
                raise
            finally:
                cursor.close()
        finally:
            dbapi.close()
