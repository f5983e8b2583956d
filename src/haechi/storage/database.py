"""Database engines: the embedded SQLite file and PostgreSQL, set up the same way."""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from haechi.errors import ConfigurationError
from haechi.storage.tables import SEPARATED_SCHEMA

__all__ = [
    "BACKGROUND_AUTOCHECKPOINT",
    "CONNECT_TIMEOUT_SECONDS",
    "SEPARATED_FILE",
    "checkpoint",
    "create_db_engine",
    "normalize_url",
]

SEPARATED_FILE = "separated.db"
#: How long a new PostgreSQL connection may take before the attempt fails.
CONNECT_TIMEOUT_SECONDS = 5


def normalize_url(url: str) -> str:
    """Pick the drivers Haechi supports: psycopg 3 for PostgreSQL, pysqlite for SQLite."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


#: SQLite's automatic checkpoint threshold (WAL pages) on the connections of a server
#: that checkpoints in the background (:func:`checkpoint`): a bound, not the rule.
BACKGROUND_AUTOCHECKPOINT = 10_000
#: How much of an SQLite file a connection maps into memory, where it maps at all.
MEMORY_MAP_BYTES = 256 * 1024 * 1024


def create_db_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 20,
    max_overflow: int = 10,
    autocheckpoint: int | None = None,
    memory_map: bool = True,
) -> Engine:
    """An engine for ``url``; SQLite gets WAL, secure_delete, foreign keys, the separated file.

    The pool keeps ``pool_size`` connections: a request thread that finds none idle
    opens an overflow connection (up to ``max_overflow``), which is closed after use.
    On SQLite that costs the ATTACH and the pragmas each time, several times the
    request's own work (docs/benchmarks.md), so the pool should hold a connection for
    every request thread. ``autocheckpoint`` (SQLite) sets the WAL size, in pages, past
    which a committing connection checkpoints (SQLite's default: 1,000).
    ``memory_map`` (SQLite) reads pages through a shared memory map: faster for one
    thread at a time; a server turns it off (see :func:`_sqlite_pragmas`).
    """
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError("the database URL is malformed") from None
    # A failed statement's parameters (sealed values, names, reasons) never reach a log.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            for path in (Path(database), Path(database).with_name(SEPARATED_FILE)):
                _private_files(path)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        if database and database != ":memory:":
            # A memory database keeps one connection per thread (SingletonThreadPool).
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow)
        engine = create_engine(url, **kwargs)
        separated = (
            str(Path(database).with_name(SEPARATED_FILE))
            if database and database != ":memory:"
            else ":memory:"
        )
        event.listen(
            engine,
            "connect",
            partial(
                _sqlite_pragmas,
                separated=separated,
                autocheckpoint=autocheckpoint,
                memory_map=memory_map,
            ),
        )
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError("Haechi runs on SQLite or PostgreSQL")
    # Pre-ping replaces a connection the server dropped (a restart) before it is used;
    # the timeouts bound the wait for a server that is down: a request fails in seconds
    # (503, see haechi.api.errors) instead of hanging.
    kwargs.update(
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )
    return create_engine(url, **kwargs)


def _private_files(path: Path) -> None:
    """Keep the SQLite file ``path`` (created empty if missing) and its WAL owner-only.

    SQLite creates a database file 0644 (less the umask), and its ``-wal`` and ``-shm``
    files with the mode of the database file. Creating the file here, 0600 and empty
    (an empty file is an empty database), before SQLite first opens it, keeps all
    three private from the first byte on; an existing file left open to others by an
    older version is closed to them.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot open the database file {path} ({type(exc).__name__})"
        ) from None
    try:
        _owner_only(fd)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        try:
            fd = os.open(f"{path}{suffix}", os.O_RDONLY)
        except OSError:  # none yet (or not ours to open: SQLite will say so)
            continue
        try:
            _owner_only(fd)
        finally:
            os.close(fd)


def _owner_only(fd: int) -> None:
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # A file of another owner (shared on purpose by its owner) is left as it is.
        with suppress(PermissionError):
            os.fchmod(fd, mode & ~(stat.S_IRWXG | stat.S_IRWXO))


def _sqlite_pragmas(
    dbapi_connection: Any,
    _record: Any,
    *,
    separated: str,
    autocheckpoint: int | None = None,
    memory_map: bool = True,
) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # The separated store (legal holds) is a file of its own beside the main one.
    # Attached before the pragmas below, so that they apply to it as well.
    cursor.execute(f"ATTACH DATABASE ? AS {SEPARATED_SCHEMA}", (separated,))
    # WAL lets readers run beside the writer; secure_delete overwrites freed pages so
    # deleted rows do not linger in the file; NORMAL sync is durable in WAL mode
    # except for the last transactions on power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Reads through a shared memory map instead of a read() call per page: 6 % off an
    # audited read in one thread. Not in a server: there every commit grows the file,
    # and each of its connections then remaps it at its next transaction (about 0.2 ms
    # at the median under load, docs/benchmarks.md), which cost more than it saved.
    cursor.execute(f"PRAGMA mmap_size={MEMORY_MAP_BYTES if memory_map else 0}")
    if autocheckpoint is not None:
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # Nearly every Haechi transaction writes (at least an audit event). Taking the
    # write lock up front makes concurrent writers queue on busy_timeout instead of
    # failing at once when a read lock cannot be upgraded. A connection marked
    # `sqlite_deferred` only reads, and takes no lock at all (WAL snapshot).
    deferred = connection.get_execution_options().get("sqlite_deferred", False)
    connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def checkpoint(engine: Engine) -> tuple[int, int]:
    """SQLite: copy what the WAL holds into the database files, without blocking anyone.

    A PASSIVE checkpoint of the main and the separated file: it copies what no reader
    still needs, waits for no lock, and lets writers go on. Returns the WAL's frames and
    how many of them are now in the database file (summed over both files).
    """
    dbapi = engine.raw_connection()
    try:
        cursor = dbapi.cursor()
        try:
            frames = copied = 0
            for schema in ("main", SEPARATED_SCHEMA):
                cursor.execute(f"PRAGMA {schema}.wal_checkpoint(PASSIVE)")
                row = cursor.fetchone()  # (busy, WAL frames, frames copied); -1: no WAL
                if row is not None:
                    frames, copied = frames + max(row[1], 0), copied + max(row[2], 0)
            return frames, copied
        finally:
            cursor.close()
    finally:
        dbapi.close()
