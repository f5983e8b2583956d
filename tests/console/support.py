"""Shared by the console tests: an app over the test engine, staff logged in by cookie."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from haechi import Engine
from haechi.api import create_app
from haechi.storage.tables import audit_events
from tests.access.staff_helpers import add_and_login

__all__ = ["COOKIE", "console", "csrf_of", "denials", "login_as"]

COOKIE = "haechi_console"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def console(engine: Engine) -> Iterator[TestClient]:
    """A client of the whole application, from a loopback address."""
    app = create_app(engine=engine)
    with TestClient(
        app,
        base_url="http://127.0.0.1",
        raise_server_exceptions=False,
        client=("127.0.0.1", 50000),
        follow_redirects=False,
    ) as client:
        yield client


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def login_as(client: TestClient, engine: Engine, username: str, role: str, *purposes: str) -> str:
    """Create an account, log it in, and give its session cookie to ``client``."""
    secret, _ = add_and_login(engine, username, role, *purposes)
    client.cookies.set(COOKIE, secret)
    return secret


def denials(engine: Engine, action: str) -> list[tuple[str, str | None]]:
    """(actor, code) of every refused event of ``action``."""
    with engine.database.connect() as connection:
        rows = connection.execute(
            select(audit_events.c.actor, audit_events.c.code).where(
                audit_events.c.action == action, audit_events.c.outcome == "denied"
            )
        ).all()
    return [(row.actor, row.code) for row in rows]
