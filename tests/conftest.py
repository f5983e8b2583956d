"""Shared fixtures: a database on each backend, a fake clock, and an engine.

Database tests run on SQLite always and on PostgreSQL when HAECHI_TEST_DATABASE_URL
is set. Locally, a missing PostgreSQL skips with a reason; under CI it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, make_url, text

from haechi import Engine, Settings
from haechi.config import AuthSettings
from haechi.crypto.keys import LocalKeyProvider, create_master_key_file
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import SEPARATED_FILE, create_db_engine
from haechi.storage.migrate import upgrade
from haechi.storage.tables import metadata

PG_ENV = "HAECHI_TEST_DATABASE_URL"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Database:
    """A migrated, empty database for one test."""

    backend: str
    url: str
    engine: SqlEngine
    path: Path | None  # the SQLite file, when there is one


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def postgres_url() -> str | None:
    """The PostgreSQL test URL, or None (skipping locally, failing under CI).

    Under pytest-xdist each worker has a database of its own beside the named one
    (``<name>_gw0``…), created here and dropped when the worker's session ends, so
    that workers never truncate each other's tables.
    """
    url = os.environ.get(PG_ENV)
    if url:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        return _worker_database(url, worker) if worker else url
    if os.environ.get("CI"):
        pytest.fail(f"{PG_ENV} must be set under CI: PostgreSQL tests may not be skipped")
    pytest.skip(f"PostgreSQL variant skipped: {PG_ENV} is not set")
    return None


_WORKER_DATABASES: set[str] = set()


def _worker_database(url: str, worker: str) -> str:
    """The URL of worker ``worker``'s own database, created on first use."""
    base = make_url(url)
    name = f"{base.database or 'postgres'}_{worker}"
    if name not in _WORKER_DATABASES:
        _administer(
            url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
        )
        _WORKER_DATABASES.add(name)
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_worker_databases() -> None:
    url = os.environ.get(PG_ENV)
    if url and _WORKER_DATABASES:
        names = sorted(_WORKER_DATABASES)
        _administer(url, *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names))


def _administer(url: str, *statements: str) -> None:
    """Run ``statements`` on ``url``'s database outside a transaction (CREATE/DROP DATABASE)."""
    admin = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        admin.dispose()


def copy_prefix(database: str | None) -> str:
    """How copies of ``database`` (tests/retention/copies.py) are named: the prefix."""
    return f"{database or 'postgres'}_copy_"


def drop_leftover_copies(engine: SqlEngine) -> None:
    """Drop the copies of ``engine``'s database that an earlier session left."""
    prefix = copy_prefix(engine.url.database)
    with engine.connect() as connection:
        leftovers = list(
            connection.execute(
                text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
                {"prefix": prefix},
            ).scalars()
        )
    if leftovers:
        url = engine.url.render_as_string(hide_password=False)
        _administer(url, *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in leftovers))


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[SqlEngine]:
    url = postgres_url()
    assert url is not None
    engine = create_db_engine(url)
    drop_leftover_copies(engine)
    upgrade(engine)
    yield engine
    engine.dispose()
    _drop_worker_databases()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database (main and separated files), copied for each test.

    Running the migrations once rather than for every test saves most of a SQLite
    test's set-up; each test still gets files of its own.
    """
    directory = tmp_path_factory.mktemp("sqlite-template")
    engine = create_db_engine(f"sqlite:///{directory / 'haechi.db'}")
    upgrade(engine)
    engine.dispose()  # the last connection closed: the WALs are checkpointed and gone
    return directory


def _truncate(engine: SqlEngine) -> None:
    names = ", ".join(table.fullname for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        for name in ("haechi.db", SEPARATED_FILE):
            shutil.copyfile(template / name, tmp_path / name)
        path = tmp_path / "haechi.db"
        url = f"sqlite:///{path}"
        engine = create_db_engine(url)
        yield Database("sqlite", url, engine, path)
        engine.dispose()
        return
    engine = request.getfixturevalue("_postgres_engine")
    _truncate(engine)
    yield Database(
        "postgresql", str(engine.url.render_as_string(hide_password=False)), engine, None
    )
    _truncate(engine)


KEYRING = "keyring"  # beside the test's database: master.key and the epochs/ key directory


def open_keys(tmp_path: Path) -> LocalKeyProvider:
    """The test's key provider: a real master key file and key directory under ``tmp_path``.

    Another process (a child a test kills) opens the same keys with the same call.
    """
    home = tmp_path / KEYRING
    home.mkdir(mode=0o700, exist_ok=True)
    if not (home / "master.key").exists():
        create_master_key_file(home / "master.key")
    return LocalKeyProvider.from_file(home / "master.key", key_directory=home / "epochs")


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeyProvider:
    return open_keys(tmp_path)


def cheap_auth(**changes: Any) -> AuthSettings:
    """Auth settings with Argon2id at its cheapest: hashing is not what tests measure.

    The settings refuse costs below OWASP's floor, from haechi.toml and HAECHI__
    variables alike; only code can build the section unvalidated, as tests do here.
    """
    cheap = {"argon2_time_cost": 1, "argon2_memory_cost_kib": 8, "argon2_parallelism": 1}
    return AuthSettings.model_construct(**{**cheap, **changes})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", auth=cheap_auth())


@pytest.fixture
def engine(
    database: Database, keys: LocalKeyProvider, clock: FakeClock, settings: Settings
) -> Engine:
    return Engine(
        database=database.engine,
        policy=parse_policy(demo_policy_text()),
        keys=keys,
        settings=settings,
        clock=clock,
    )


PERSON = {
    "name": "김민지",
    "contact": "010-2345-6789",
    "email": "minji.kim@example.kr",
    "company": "한빛상사",
    "department": "구매팀",
    "title": "대리",
}


@pytest.fixture
def person() -> dict[str, str]:
    """One person's items for the demo policy (fictional values)."""
    return dict(PERSON)


def raw_storage(database: Database) -> bytes:
    """Every byte the database keeps: its SQLite files and WALs, or a full pg_dump."""
    if database.backend == "sqlite":
        assert database.path is not None
        files = [path for path in database.path.parent.glob("*.db*") if path.is_file()]
        return b"".join(path.read_bytes() for path in files)
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is needed to read what PostgreSQL keeps")
    return subprocess.run(
        [pg_dump, *pg_connection_options(database), database.engine.url.database or "postgres"],
        check=True,
        capture_output=True,
    ).stdout


def pg_connection_options(database: Database) -> list[str]:
    """The host, port and user options of PostgreSQL's client programs for ``database``."""
    url = database.engine.url
    return [
        "--host",
        url.host or "127.0.0.1",
        "--port",
        str(url.port or 5432),
        "--username",
        url.username or "postgres",
        "--no-password",
    ]
