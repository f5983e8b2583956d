"""The collections' lane: how many collections a server process works on at once.

On SQLite one at a time by default (``haechi.api.deps.lane_size``: threads collecting
side by side cost more CPU than they overlap); on PostgreSQL as many as there are
request threads. Either way every collection is answered, and ``server.collect_threads``
sets the lane.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from haechi import Engine, Settings
from haechi.api import create_app
from haechi.api.deps import lane_size
from haechi.config import ServerSettings
from tests.api.test_api import bearer, body
from tests.conftest import PERSON


def _counting(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Count the collections inside ``engine.collect`` at once; the most seen."""
    lock = threading.Lock()
    inside = 0
    most = 0
    real = engine.collect

    def counted(**kwargs: Any) -> Any:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.05)  # long enough for the others to arrive
            return real(**kwargs)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(engine, "collect", counted)
    return lambda: most


def _collect_at_once(engine: Engine, *, hot_routes: bool, count: int = 6) -> list[int]:
    auth = bearer(engine, "service")
    with TestClient(create_app(engine=engine, hot_routes=hot_routes)) as client:

        def one(index: int) -> int:
            person = {**PERSON, "email": f"lane{index}@example.kr"}
            return client.post("/api/v1/collections", json=body(person), headers=auth).status_code

        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(one, range(count)))


@pytest.mark.parametrize("hot_routes", [True, False], ids=["hot", "fastapi"])
def test_collections_take_turns_on_sqlite_and_not_on_postgresql(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, hot_routes: bool
) -> None:
    """It works on one collection at a time on SQLite, on several on PostgreSQL."""
    most = _counting(engine, monkeypatch)
    assert _collect_at_once(engine, hot_routes=hot_routes) == [201] * 6
    if engine.database.dialect.name == "sqlite":
        assert most() == 1
    else:
        assert most() > 1


def test_the_lane_is_a_setting(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """It lets ``server.collect_threads`` collections in at once, no more."""
    engine.settings.server.collect_threads = 2
    most = _counting(engine, monkeypatch)
    assert _collect_at_once(engine, hot_routes=True) == [201] * 6
    assert most() <= 2


def test_lane_sizes() -> None:
    """It sizes the lane from the setting, or from the database."""
    server = ServerSettings(threads=8)
    assert lane_size(server, "sqlite") == 1
    assert lane_size(server, "postgresql") == 8
    assert lane_size(ServerSettings(threads=8, collect_threads=3), "sqlite") == 3


def test_the_lane_cannot_exceed_the_request_threads() -> None:
    """It refuses more collections at once than request threads, naming both settings."""
    with pytest.raises(ValidationError) as caught:
        Settings(server={"threads": 4, "collect_threads": 5})
    assert "server.collect_threads (5) must not exceed server.threads (4)" in str(caught.value)
