"""Stored data that fails authentication is the server's problem: 500, a code, an alert."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Table, select, update

from haechi import Engine
from haechi.api import create_app
from haechi.storage.tables import data_keys, items
from tests.api.test_api import bearer, body
from tests.conftest import Database


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=engine), raise_server_exceptions=False) as test_client:
        yield test_client


def _flip_a_byte(database: Database, table: Table, column: str, collection_id: str) -> None:
    with database.engine.begin() as connection:
        stored = connection.execute(
            select(table.c[column]).where(table.c.collection_id == collection_id).limit(1)
        ).scalar_one()
        altered = bytes(stored[:-1]) + bytes([stored[-1] ^ 1])
        connection.execute(
            update(table)
            .where(table.c.collection_id == collection_id, table.c[column] == stored)
            .values({column: altered})
        )


@pytest.mark.parametrize(
    ("table", "column", "code"),
    [(items, "sealed", "CIPHERTEXT_TAMPERED"), (data_keys, "wrapped", "KEY_UNWRAP_FAILED")],
    ids=["item", "data-key"],
)
def test_an_altered_ciphertext_is_500_with_a_code_and_an_alert(
    client: TestClient,
    engine: Engine,
    database: Database,
    person: dict[str, str],
    table: Table,
    column: str,
    code: str,
) -> None:
    """It answers 500 with the error's code, no value, records an alert, and serves on."""
    auth = bearer(engine, "service")
    created = client.post("/api/v1/collections", json=body(person), headers=auth).json()
    _flip_a_byte(database, table, column, created["collection_id"])
    response = client.get(
        f"/api/v1/subjects/{created['subject_id']}/items",
        params={"purpose": "service"},
        headers=auth,
    )
    assert response.status_code == 500, response.text
    assert response.json()["code"] == code
    assert "Traceback" not in response.text
    assert all(value not in response.text for value in person.values())
    alert = engine.alerts()[0]
    assert (alert.rule, alert.actor) == ("integrity_failure", "token:crm")
    assert alert.detail["subject_id"] == created["subject_id"]
    event = engine.events(limit=1)[0]
    assert (event.action, event.outcome, event.code) == ("integrity_failure", "denied", code)
    assert event.source_ip == "testclient"
    assert client.get("/api/v1/audit/heads").status_code == 200
