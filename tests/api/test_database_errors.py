"""The API's answer to a database error that is neither a lost connection nor a bad request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, InternalError

from haechi.api.errors import install_error_handlers


class _Diagnostic:
    def __init__(self, source_function: str) -> None:
        self.source_function = source_function


class _PostgresError(Exception):
    """The fields psycopg's errors carry: the SQLSTATE and where the server raised it."""

    def __init__(self, sqlstate: str, source_function: str) -> None:
        super().__init__('could not extend file "base/5/16384": File too large')
        self.sqlstate = sqlstate
        self.diag = _Diagnostic(source_function)


_RAISED = {
    # A quota or a file size limit met while a table grows (PostgreSQL's XX000).
    "quota": InternalError("INSERT …", {}, _PostgresError("XX000", "mdextend")),
    "internal": InternalError("SELECT …", {}, _PostgresError("XX000", "heap_fetch")),
    "integrity": IntegrityError("INSERT …", {}, _PostgresError("23505", "_bt_check_unique")),
}


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{kind}")
    def _raise(kind: str) -> None:
        raise _RAISED[kind]

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_quota_met_by_postgres_is_507_storage_full(client: TestClient) -> None:
    """It answers 507 STORAGE_FULL, without the driver's text, for XX000 from mdextend."""
    response = client.get("/raise/quota")
    assert response.status_code == 507
    assert response.json()["code"] == "STORAGE_FULL"
    assert "16384" not in response.text


@pytest.mark.parametrize("kind", ["internal", "integrity"])
def test_other_driver_errors_stay_internal(client: TestClient, kind: str) -> None:
    """It keeps any other internal error or constraint failure a 500 INTERNAL."""
    response = client.get(f"/raise/{kind}")
    assert response.status_code == 500
    assert response.json()["code"] == "INTERNAL"
