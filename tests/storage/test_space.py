"""One answer to "is the storage full?" for every surface."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InternalError, OperationalError

from haechi.storage.database import create_db_engine
from haechi.storage.space import out_of_space
from tests.reliability.private_postgres import private_postgres


class _Diagnostic:
    def __init__(self, source_function: str | None) -> None:
        self.source_function = source_function


class _DriverError(Exception):
    """A driver exception carrying the fields SQLite's and psycopg's errors carry."""

    def __init__(
        self,
        *,
        sqlite_errorname: str | None = None,
        sqlstate: str | None = None,
        source_function: str | None = None,
    ):
        super().__init__("driver text that may quote a value")
        self.sqlite_errorname = sqlite_errorname
        self.sqlstate = sqlstate
        self.diag = _Diagnostic(source_function)


def _wrapped(original: Exception) -> OperationalError:
    return OperationalError("INSERT …", {}, original)


def test_it_names_full_file_systems_quotas_and_size_limits() -> None:
    """It counts ENOSPC, EDQUOT and EFBIG as out of space, and no other errno."""
    for number in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        assert out_of_space(OSError(number, "no"))
    for number in (errno.EACCES, errno.EIO, errno.ENOENT):
        assert not out_of_space(OSError(number, "no"))


def test_it_reads_the_databases_own_codes() -> None:
    """It counts SQLITE_FULL, SQLITE_IOERR_SHMSIZE and PostgreSQL's 53100, not a locked file."""
    assert out_of_space(_wrapped(_DriverError(sqlite_errorname="SQLITE_FULL")))
    assert out_of_space(_wrapped(_DriverError(sqlite_errorname="SQLITE_IOERR_SHMSIZE")))
    assert out_of_space(_wrapped(_DriverError(sqlstate="53100")))
    assert not out_of_space(_wrapped(_DriverError(sqlite_errorname="SQLITE_BUSY")))
    assert not out_of_space(_wrapped(_DriverError(sqlite_errorname="SQLITE_IOERR_WRITE")))
    assert not out_of_space(_wrapped(_DriverError(sqlstate="57P01")))


def test_it_reads_a_postgres_internal_error_raised_while_extending_a_file() -> None:
    """It counts XX000 from the functions that extend a relation's file, no other XX000."""
    for function in ("mdextend", "mdzeroextend"):
        error = _DriverError(sqlstate="XX000", source_function=function)
        assert out_of_space(InternalError("INSERT …", {}, error))
    for function in ("heap_insert", None):
        error = _DriverError(sqlstate="XX000", source_function=function)
        assert not out_of_space(InternalError("INSERT …", {}, error))
    # Only the internal-error class: a unique violation raised there is still no full disk.
    error = _DriverError(sqlstate="23505", source_function="mdextend")
    assert not out_of_space(InternalError("INSERT …", {}, error))


def test_postgres_past_a_file_size_limit_is_out_of_space() -> None:
    """It names PostgreSQL's own refusal to grow a table past the file size limit (EFBIG).

    The cluster's processes may write files of 4 MiB at most (WAL segments of 1 MiB
    fit); a table of 8 MiB cannot be written. A disk quota (EDQUOT) takes the same path.
    """
    with private_postgres("--wal-segsize=1", file_size_limit=4 * 1024 * 1024) as cluster:
        engine = create_db_engine(cluster.url)
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE ballast (x text)"))
            with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO ballast SELECT repeat(md5(g::text), 60) "
                        "FROM generate_series(1, 4000) AS g"
                    )
                )
        finally:
            engine.dispose()
    assert raised.value.orig is not None
    assert getattr(raised.value.orig, "sqlstate", None) == "XX000"
    assert out_of_space(raised.value)


def test_sqlite_errors_carry_the_name_it_reads() -> None:
    """It relies on the name SQLite's own exceptions carry (Python ≥ 3.11)."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE t (x PRIMARY KEY)")
        connection.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.IntegrityError) as raised:
            connection.execute("INSERT INTO t VALUES (1)")
    finally:
        connection.close()
    assert raised.value.sqlite_errorname == "SQLITE_CONSTRAINT_PRIMARYKEY"
    assert not out_of_space(_wrapped(raised.value))
