"""Database scans on SQLite always, and on PostgreSQL when HAECHI_TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, Text, create_engine

from haechi.discovery import run_scan
from haechi.discovery.database import safe_url
from haechi.errors import InvalidInput

ROWS = [
    {"id": 1, "name": "홍길동", "memo": "연락처 010-2345-6789", "account": "110123456789"},
    {"id": 2, "name": "김철수", "memo": "주민번호 900101-1234568", "account": None},
    {"id": 3, "name": "이영희", "memo": "배송 2023-10-15", "account": None},
]
ROWS[0]["extra"] = None
ROWS[1]["extra"] = {"ip": "203.0.113.7"}
ROWS[2]["extra"] = None


def _urls() -> Iterator[object]:
    yield pytest.param("sqlite", id="sqlite")
    yield pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)


@pytest.fixture(params=list(_urls()))
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Create a throwaway table with known values; yield (url, table name)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'scan.db'}"
    else:
        url = os.environ.get("HAECHI_TEST_DATABASE_URL", "")
        if not url:
            pytest.skip("HAECHI_TEST_DATABASE_URL is not set; PostgreSQL scan not tested")
    name = f"haechi_scan_{uuid.uuid4().hex[:10]}"
    metadata = MetaData()
    table = Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(50)),
        Column("memo", Text),
        Column("account", String(20)),
        Column("extra", JSON),
    )
    engine = create_engine(url)
    metadata.create_all(engine)
    try:
        with engine.begin() as connection:
            connection.execute(table.insert(), ROWS)
        yield url, name
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def test_it_scans_every_row_of_a_table(database: tuple[str, str]) -> None:
    """It reports table.column and primary key for each value found."""
    url, name = database
    report = run_scan([], db_url=url, db_tables=[name], declared_types={"phone"}, engine="re")
    found = sorted((f.type, str(f.location), f.declared) for f in report.findings)
    assert found == [
        ("bank_account", f"{name}.account[id=1]", False),
        ("ip_address", f"{name}.extra[id=2]", False),
        ("phone", f"{name}.memo[id=1]", True),
        ("rrn", f"{name}.memo[id=2]", False),
    ]
    assert report.rows_scanned == 3
    assert report.tables_scanned == 1
    assert report.exit_code("undeclared") == 1


def test_it_scans_a_sample(database: tuple[str, str]) -> None:
    """It reads only the first rows when asked for a sample."""
    url, name = database
    report = run_scan([], db_url=url, db_tables=[name], db_sample=1, engine="re")
    assert report.rows_scanned == 1
    assert {f.location.row_key for f in report.findings} == {"id=1"}


def test_it_masks_a_primary_key_that_is_personal(tmp_path: Path) -> None:
    """It masks an identifier used as a row key instead of printing it."""
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    metadata = MetaData()
    table = Table("contacts", metadata, Column("email", String(80), primary_key=True))
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"email": "kim@example.com"}])
    engine.dispose()
    report = run_scan([], db_url=url, engine="re")
    assert len(report.findings) == 1
    assert "kim@example.com" not in str(report.findings[0].location)


def test_it_hides_the_password_and_refuses_bad_urls() -> None:
    """It never shows a database password and names the field of a bad URL."""
    assert "secret" not in safe_url("postgresql://u:secret@localhost/db")
    with pytest.raises(InvalidInput) as error:
        run_scan([], db_url="not a url")
    assert error.value.field == "db_url"
