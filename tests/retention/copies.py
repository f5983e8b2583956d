"""Copies of a test's database, as an operator's backups would be, and engines over them.

SQLite: both files (main and separated) copied with SQLite's online backup. PostgreSQL:
a ``pg_dump`` restored with ``psql`` into a database of its own, named after the test's
database (``<name>_copy_…``). Copies are not dropped after the test: a DROP DATABASE
makes PostgreSQL take an immediate checkpoint of the whole cluster, which under the
suite's parallel load held one test's teardown for over three minutes. The next
session's first PostgreSQL test drops what an earlier session left
(:func:`tests.conftest.drop_leftover_copies`).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from haechi import Engine
from haechi.crypto.keys import KeyProvider
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import SEPARATED_FILE, create_db_engine
from tests.conftest import Database, FakeClock, copy_prefix, pg_connection_options

__all__ = ["Copies"]


class Copies:
    """Takes copies of one database and opens engines over them."""

    def __init__(self, database: Database, tmp_path: Path):
        self.database = database
        self.tmp_path = tmp_path

    def take(self) -> str:
        """A copy of the database as it is now; its URL."""
        name = f"{copy_prefix(self.database.engine.url.database)}{uuid.uuid4().hex[:10]}"
        if self.database.backend == "sqlite":
            assert self.database.path is not None
            target = self.tmp_path / name
            target.mkdir()
            for file in ("haechi.db", SEPARATED_FILE):
                source = sqlite3.connect(self.database.path.with_name(file))
                copy = sqlite3.connect(target / file)
                with copy:
                    source.backup(copy)
                source.close()
                copy.close()
            return f"sqlite:///{target / 'haechi.db'}"
        url = self.database.engine.url
        common = pg_connection_options(self.database)
        pg_dump, psql = shutil.which("pg_dump"), shutil.which("psql")
        if pg_dump is None or psql is None:
            pytest.fail("pg_dump and psql are needed to copy a PostgreSQL database")
        dump = subprocess.run(
            [pg_dump, *common, "--no-owner", url.database or "postgres"],
            check=True,
            capture_output=True,
        ).stdout
        with self.database.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        subprocess.run(
            [psql, *common, "--quiet", "--set", "ON_ERROR_STOP=1", "--dbname", name],
            input=dump,
            check=True,
            capture_output=True,
        )
        return str(url.set(database=name).render_as_string(hide_password=False))

    @contextmanager
    def opened(self, url: str, *, keys: KeyProvider, clock: FakeClock) -> Iterator[Engine]:
        """An engine over a copy, with the keys the installation holds now."""
        database = create_db_engine(url)
        try:
            yield Engine(
                database=database,
                policy=parse_policy(demo_policy_text()),
                keys=keys,
                clock=clock,
            )
        finally:
            database.dispose()
