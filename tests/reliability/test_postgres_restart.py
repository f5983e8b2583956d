"""PostgreSQL stopped and started under load: 503 while down, nothing acknowledged lost.

A private cluster (never the machine's shared server) backs a real ``haechi serve``;
three clients collect and one reads while the cluster is stopped at once (connections
cut) and started again.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import PERSON
from tests.reliability.live import Live, live_server
from tests.reliability.private_postgres import private_postgres

pytestmark = pytest.mark.slow

WRITERS = 3
BEFORE = 20  # acknowledged collections before the stop
DOWN = 6  # refusals seen while the cluster is down
AFTER = 20  # acknowledged collections after the start


def _collect(client: httpx.Client, live: Live, email: str) -> httpx.Response:
    return client.post(
        f"{live.url}/api/v1/collections",
        json={
            "purpose": "service",
            "items": {**PERSON, "email": email},
            "consent": {"granted": True, "method": "web-form"},
        },
        headers=live.headers_for("/api/v1/collections"),
    )


def test_a_restart_under_load_refuses_cleanly_and_loses_nothing(tmp_path: Path) -> None:
    """It answers 201 or 503 DATABASE_UNAVAILABLE only, recovers alone, and keeps every 201."""
    with (
        private_postgres() as cluster,
        live_server(tmp_path / "data", init_args=("--database", cluster.url)) as live,
    ):
        acknowledged: list[str] = []
        answers: Counter[tuple[int, str | None]] = Counter()
        errors: list[str] = []
        lock = threading.Condition()
        stop = threading.Event()

        def record(response: httpx.Response) -> None:
            code = response.json().get("code") if response.status_code >= 400 else None
            with lock:
                answers[(response.status_code, code)] += 1
                if response.status_code == 201:
                    acknowledged.append(response.json()["collection_id"])
                lock.notify_all()

        def writer(index: int) -> None:
            with httpx.Client(timeout=60) as client:
                for n in range(100_000):
                    if stop.is_set():
                        return
                    try:
                        record(_collect(client, live, f"load{index}-{n}@example.kr"))
                    except httpx.HTTPError as exc:  # a hang past the timeout, a dropped socket
                        errors.append(type(exc).__name__)

        def reader() -> None:
            url = f"{live.url}/api/v1/collections/{live.collection_id}"
            with httpx.Client(timeout=60) as client:
                while not stop.is_set():
                    try:
                        record(client.get(url, headers=live.headers_for(url[len(live.url) :])))
                    except httpx.HTTPError as exc:
                        errors.append(type(exc).__name__)

        def wait_for(predicate: object) -> None:
            with lock:
                assert lock.wait_for(predicate, timeout=120), dict(answers)  # type: ignore[arg-type]

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
        threads.append(threading.Thread(target=reader))
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: len(acknowledged) >= BEFORE)
            cluster.stop()
            wait_for(lambda: answers[(503, "DATABASE_UNAVAILABLE")] >= DOWN)
            cluster.start()
            before_start = len(acknowledged)
            wait_for(lambda: len(acknowledged) >= before_start + AFTER)
        finally:
            stop.set()
            for thread in threads:
                thread.join()

        assert errors == []
        assert set(answers) <= {(201, None), (200, None), (503, "DATABASE_UNAVAILABLE")}, answers
        with httpx.Client(timeout=60) as client:
            for collection_id in acknowledged:
                path = f"/api/v1/collections/{collection_id}"
                read = client.get(f"{live.url}{path}", headers=live.headers_for(path))
                assert read.status_code == 200, read.text
        print(f"\npostgres restart: {dict(answers)}, acknowledged {len(acknowledged)}, lost 0")
