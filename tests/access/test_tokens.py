"""API tokens on every request: one read, no cache, no write lock."""

from __future__ import annotations

import sqlite3

import pytest

from haechi import Engine
from haechi.errors import PermissionDenied
from tests.conftest import Database


def test_a_revoked_token_is_refused_on_its_next_call(engine: Engine) -> None:
    """It refuses a token at the first call after its revocation: nothing is cached."""
    _, secret = engine.create_token(name="crm", purposes=["service"])
    assert engine.authenticate(secret).name == "token:crm"
    engine.revoke_token("crm")
    with pytest.raises(PermissionDenied) as refused:
        engine.authenticate(secret)
    assert refused.value.code == "INVALID_TOKEN"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_token_lookup_does_not_wait_for_a_writer(engine: Engine, database: Database) -> None:
    """It authenticates while another connection holds SQLite's write lock (reads only)."""
    _, secret = engine.create_token(name="crm", purposes=["service"])
    assert database.path is not None
    writer = sqlite3.connect(database.path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("PRAGMA busy_timeout=0")
        assert engine.authenticate(secret, source_ip="192.0.2.1").source_ip == "192.0.2.1"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
