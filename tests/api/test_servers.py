"""Two ``haechi serve`` processes with two workers each, on one PostgreSQL database.

They are two installations of one deployment: the same settings, keys and policy (a
copied data directory), one database. Both serve the same data, the access log they
write together stays one verifiable log, and each background job runs in one process
only (this test is PostgreSQL only, and fails rather than skips under CI).
"""

from __future__ import annotations

import json
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from haechi.jobs import SEALER, SERVER_JOBS
from haechi.storage.tables import audit_events, audit_leaves
from tests.conftest import Database
from tests.serving import child_env, free_port, haechi

JOB_TAKEN = re.compile(r"job (\w+) runs in this process \(pid (\d+)\)")
# The test runs on PostgreSQL, where SQLite's WAL checkpoint job is not scheduled.
JOBS = {job.name for job in SERVER_JOBS if not job.sqlite_only} | {SEALER}


class Server:
    """A running ``haechi serve --workers 2``: its URL and what it printed so far."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.output: list[str] = []

    def read_until(self, done: str, count: int = 1, timeout: float = 180) -> None:
        """Read the server's output until ``done`` has appeared ``count`` times.

        The deadline guards against a hang, not a slow start: two servers of two
        workers each start beside the rest of the suite on two cores.
        """
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while sum(done in line for line in self.output) < count:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(left, 0))
            line = self.process.stdout.readline() if ready else ""
            assert line, f"no {done!r} from the server: {''.join(self.output)}"
            self.output.append(line)

    def taken(self) -> list[tuple[str, int]]:
        """The jobs this server's processes took, with the pid of each."""
        found = (JOB_TAKEN.search(line) for line in self.output)
        return [(match[1], int(match[2])) for match in found if match]


@contextmanager
def serving(data_dir: Path) -> Iterator[Server]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "haechi.cli",
            "serve",
            "--data",
            str(data_dir),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(),
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        # Both workers have started serving.
        server.read_until("Application startup complete", count=2)
        yield server
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=60)
        server.output.append(rest)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_two_servers_of_two_workers_share_one_database(
    database: Database, tmp_path: Path, person: dict[str, str]
) -> None:
    """It serves one data set from both servers, keeps one log, and runs each job once."""
    first_dir = tmp_path / "first"
    assert haechi("init", str(first_dir), "--database", database.url).returncode == 0
    # Epoch keys are made while serving: with local keys, every server has the one key
    # directory (a shared file system in a deployment, docs/deployment.md).
    shared_keys = tmp_path / "shared-keys"
    with (first_dir / "haechi.toml").open("a", encoding="utf-8") as settings:
        settings.write(f'\n[keys]\ndirectory = "{shared_keys}"\n')
    second_dir = tmp_path / "second"
    shutil.copytree(first_dir, second_dir)
    made = haechi("tokens", "create", "--name", "crm", "-p", "service", "--data", str(first_dir))
    assert made.returncode == 0, made.stderr
    bearer = {"Authorization": f"Bearer {made.stdout.strip()}"}
    consent = {"granted": True, "method": "web-form"}

    with ExitStack() as stack:
        first = stack.enter_context(serving(first_dir))
        # The first server's processes take every job before the second one starts.
        while {name for name, _ in first.taken()} != JOBS:
            first.read_until("runs in this process", count=len(first.taken()) + 1)
        second = stack.enter_context(serving(second_dir))
        subjects = []
        for index, (writer, reader) in enumerate([(first, second), (second, first)] * 3):
            items = {**person, "email": f"person{index}@example.kr"}
            created = httpx.post(
                f"{writer.url}/api/v1/collections",
                json={"purpose": "service", "items": items, "consent": consent},
                headers=bearer,
                timeout=60,
            )
            assert created.status_code == 201, created.text
            subject = created.json()["subject_id"]
            read = httpx.get(
                f"{reader.url}/api/v1/subjects/{subject}/items",
                params={"purpose": "service"},
                headers=bearer,
                timeout=60,
            )
            assert read.status_code == 200, read.text
            assert read.json()["items"] == items
            subjects.append(subject)
        assert len(set(subjects)) == 6

    taken = first.taken() + second.taken()
    # Each job was taken once, by one process, for as long as both servers ran.
    assert sorted(name for name, _ in taken) == sorted(JOBS), taken
    assert second.taken() == []
    verified = haechi("audit", "verify", "--json", "--data", str(second_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    with database.engine.connect() as connection:
        events = connection.execute(sql_select(func.count()).select_from(audit_events)).scalar()
        leaves = connection.execute(sql_select(func.count()).select_from(audit_leaves)).scalar()
    # Every event both servers wrote is sealed into the one tree that verifies.
    assert report["ok"] is True
    assert events == leaves == report["size"]
    assert events is not None
    assert events >= 12
