"""Shared fixtures: a database on each backend, a fake clock, and an engine.

Database tests run on SQLite always and on PostgreSQL when HAECHI_TEST_DATABASE_URL
is set. Locally, a missing PostgreSQL skips with a reason; under CI it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text

from haechi import Engine, Settings
from haechi.config import AuthSettings
from haechi.crypto.keys import LocalKeyProvider
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import create_db_engine
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
    """The PostgreSQL test URL, or None (skipping locally, failing under CI)."""
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{PG_ENV} must be set under CI: PostgreSQL tests may not be skipped")
    pytest.skip(f"PostgreSQL variant skipped: {PG_ENV} is not set")
    return None


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[SqlEngine]:
    url = postgres_url()
    assert url is not None
    engine = create_db_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _truncate(engine: SqlEngine) -> None:
    names = ", ".join(table.fullname for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "haechi.db"
        url = f"sqlite:///{path}"
        engine = create_db_engine(url)
        upgrade(engine)
        yield Database("sqlite", url, engine, path)
        engine.dispose()
        return
    engine = request.getfixturevalue("_postgres_engine")
    _truncate(engine)
    yield Database(
        "postgresql", str(engine.url.render_as_string(hide_password=False)), engine, None
    )
    _truncate(engine)


@pytest.fixture
def keys() -> LocalKeyProvider:
    return LocalKeyProvider(secrets.token_bytes(32), key_id="test-1")


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
    url = database.engine.url
    return subprocess.run(
        [
            pg_dump,
            "--host",
            url.host or "127.0.0.1",
            "--port",
            str(url.port or 5432),
            "--username",
            url.username or "postgres",
            "--no-password",
            url.database or "postgres",
        ],
        check=True,
        capture_output=True,
    ).stdout
