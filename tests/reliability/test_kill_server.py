"""``kill -9`` of a real ``haechi serve`` under load, then a restart: nothing acknowledged lost.

One data directory (SQLite, or PostgreSQL) goes through rounds. In each, a server
starts on it and client threads collect, read (use) and carry rights requests through
their steps, while the sealer seals every few milliseconds; at a random moment after a
number of acknowledged calls the server's whole process tree is killed with SIGKILL:
the server (or, with ``--workers 2``, first one worker, then the supervisor and the
rest) and its sealer child. One round also kills while the sweep destroys expired
collections. After each kill, and after the final restart, the test checks that every
collection is whole or destroyed with a certificate; after the restart, that every
acknowledged collection reads back, every request on file (also one whose entry a
kill cut off before the reply) can be carried to its end, every
mailed answer is recorded as sent or waits in the outbox, and the log verifies with
every event sealed.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from haechi import Engine, Settings
from haechi.storage.mail_tables import mail_outbox
from haechi.storage.rights_tables import rights_requests
from haechi.storage.tables import audit_events, audit_leaves, collections
from tests.conftest import PERSON, Database
from tests.reliability.live import prepare
from tests.retention.conftest import check_all_or_nothing, seed
from tests.serving import Server, haechi, start_server, stop_server

pytestmark = pytest.mark.slow

# Sealing every 50 ms keeps the sealer at work under load; the sweep runs once a second
# in chunks of 5, so the due collections keep it busy for a while.
SETTINGS = """
[audit]
seal_interval_seconds = 0.05

[retention]
sweep_interval_seconds = 1
chunk_size = 5
"""
COLLECTORS = 2
THRESHOLD = 12  # acknowledged collections in a round before the kill can come
LATEST_KILL = 0.4  # seconds after the threshold at most
# Expired collections seeded in a sweep round: in chunks of 5, enough that the kill
# usually finds the sweep mid-way (1,000 in chunks of 10 once ended before the kill
# came); a round where it does not is repeated (see _sweep_round).
DUE = 2000
SWEEP_TRIES = 5  # rounds to catch the sweep mid-way (see _sweep_round)


@dataclass
class Tally:
    """What the clients were told, over every round."""

    collected: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → subject, email
    deleted: dict[str, str] = field(default_factory=dict)  # collection id → its request id
    requests: list[str] = field(default_factory=list)
    answers: Counter[int] = field(default_factory=Counter)
    # Calls a kill left unanswered (ConnectError: sent after it, to a closed port).
    cut: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    lock: threading.Condition = field(default_factory=threading.Condition)

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.collected) + len(self.deleted)


@dataclass
class Credentials:
    """The service token and the officer's session of the prepared directory."""

    token: str
    session: str

    def service(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def staff(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}"}


def _person(email: str) -> dict[str, object]:
    return {
        "purpose": "service",
        "items": {**PERSON, "email": email},
        "consent": {"granted": True, "method": "web-form"},
    }


class Load:
    """Client threads against one server until stopped: collect, use, request steps."""

    def __init__(self, url: str, credentials: Credentials, tally: Tally, name: str) -> None:
        self.url = url
        self.credentials = credentials
        self.tally = tally
        self.name = name
        self.stop = threading.Event()
        self.numbers = itertools.count()
        self.answered = threading.Event()  # a request was completed, its answer due
        self.failures: list[str] = []
        targets: list[Callable[[httpx.Client], None]] = [
            *(self._collector(index) for index in range(COLLECTORS)),
            self._user,
            self._handler,
        ]
        self.threads = [threading.Thread(target=self._run, args=(t,)) for t in targets]

    def _run(self, target: Callable[[httpx.Client], None]) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.stop.is_set():
                try:
                    target(client)
                except httpx.TransportError as exc:  # the server died under this call
                    with self.tally.lock:
                        self.tally.cut[type(exc).__name__] += 1
                    if isinstance(exc, httpx.ConnectError):  # gone: wait for the next round
                        self.stop.wait(0.05)
                except AssertionError as exc:
                    self.failures.append(str(exc))
                    return

    def _call(
        self, client: httpx.Client, method: str, path: str, *, staff: bool = False, **kw: Any
    ) -> httpx.Response:
        headers = self.credentials.staff() if staff else self.credentials.service()
        response = client.request(method, path, headers=headers, **kw)
        with self.tally.lock:
            self.tally.answers[response.status_code] += 1
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        return response

    def _collector(self, index: int) -> Callable[[httpx.Client], None]:
        numbers = itertools.count()

        def collect(client: httpx.Client) -> None:
            email = f"{self.name}-c{index}-{next(numbers)}@example.kr"
            body = self._call(client, "POST", "/api/v1/collections", json=_person(email)).json()
            with self.tally.lock:
                self.tally.collected[body["collection_id"]] = (body["subject_id"], email)
                self.tally.lock.notify_all()

        return collect

    def _user(self, client: httpx.Client) -> None:
        with self.tally.lock:
            if not self.tally.collected:
                self.tally.lock.wait(1)
                return
            subject_id, email = random.choice(list(self.tally.collected.values()))
        read = self._call(
            client, "GET", f"/api/v1/subjects/{subject_id}/items", params={"purpose": "service"}
        ).json()
        assert read["items"]["email"] == email, "a read returned another person's items"

    def _handler(self, client: httpx.Client) -> None:
        """A new person, then a request of theirs carried from entry to completion."""
        email = f"{self.name}-r{next(self.numbers)}@example.kr"
        kind = random.choice(["access", "deletion"])
        collected = self._call(client, "POST", "/api/v1/collections", json=_person(email)).json()
        with self.tally.lock:
            if kind == "deletion":
                self.tally.deleted[collected["collection_id"]] = ""
            else:
                self.tally.collected[collected["collection_id"]] = (collected["subject_id"], email)
            self.tally.lock.notify_all()
        body = {"kind": kind, "channel": "email", "email": email, "lang": "en"}
        entered = self._call(client, "POST", "/api/v1/requests", staff=True, json=body).json()
        with self.tally.lock:
            self.tally.requests.append(entered["id"])
            if kind == "deletion":
                self.tally.deleted[collected["collection_id"]] = entered["id"]
        path = f"/api/v1/requests/{entered['id']}"
        self._call(
            client, "POST", f"{path}/verify", staff=True, json={"method": "reply_from_address"}
        )
        self._call(client, "POST", f"{path}/start", staff=True)
        self._call(client, "POST", f"{path}/complete", staff=True, json={"delivery": "mail"})
        self.answered.set()

    @contextmanager
    def running(self) -> Iterator[Load]:
        for thread in self.threads:
            thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            with self.tally.lock:
                self.tally.lock.notify_all()
            for thread in self.threads:
                thread.join(timeout=120)
        assert self.failures == []

    def wait_for(self, predicate: Callable[[], bool]) -> None:
        with self.tally.lock:
            met = self.tally.lock.wait_for(lambda: predicate() or bool(self.failures), 120)
        assert self.failures == []
        assert met, dict(self.tally.answers)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), children before their own children."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        for _ in range(2000):
            if _gone(pid):
                break
            threading.Event().wait(0.01)
        assert _gone(pid), f"process {pid} outlived SIGKILL"


def _workers(server: Server) -> list[int]:
    return [
        pid
        for pid in _descendants(server.process.pid)
        if "spawn_main" in _command(pid) and not _gone(pid)
    ]


def kill_tree(server: Server, tally: Tally) -> None:
    """SIGKILL the server and everything it started (workers, sealer): no cleanup at all."""
    below = _descendants(server.process.pid)
    assert any("audit seal" in _command(pid) for pid in below), "the sealer is not running"
    _kill([server.process.pid, *below])
    server.process.wait(timeout=30)
    if server.reader is not None:
        server.reader.join(timeout=30)
    tally.kills += 1


def _due_left(engine: Engine) -> int:
    # A plain read, off SQLite's write lock: a connection of Haechi's begins with
    # BEGIN IMMEDIATE, and a poll waiting for that lock behind the sweep's chunks
    # would see nothing until the whole sweep had ended.
    with engine.database.connect() as connection:
        return int(
            connection.execution_options(sqlite_deferred=True)
            .execute(
                select(func.count()).where(
                    collections.c.channel == "test", collections.c.state != "destroyed"
                )
            )
            .scalar_one()
        )


def _round(
    data_dir: Path,
    credentials: Credentials,
    tally: Tally,
    chance: random.Random,
    *,
    name: str,
    workers: int = 1,
    sweep: Engine | None = None,
) -> None:
    """Serve, load, kill -9 once work is in flight.

    At a random moment; with ``sweep``, while the sweep destroys; with ``workers``,
    one worker at a random moment and the rest as soon as a request's completion
    was answered (its answer's mail is then due).
    """
    server = start_server(data_dir, *(["--workers", str(workers)] if workers > 1 else []))
    try:
        with Load(server.url, credentials, tally, name).running() as load:
            start = tally.acknowledged()
            load.wait_for(lambda: tally.acknowledged() >= start + THRESHOLD)
            if workers > 1:
                [victim, *_] = _workers(server)
                load.stop.wait(chance.uniform(0, LATEST_KILL))
                _kill([victim])  # one worker: the supervisor starts another
                tally.kills += 1
                again = tally.acknowledged()
                load.wait_for(lambda: tally.acknowledged() >= again + THRESHOLD)
                load.answered.clear()
                assert load.answered.wait(120), load.failures
            if sweep is not None:
                # Due now: the sweep's next round (within a second) destroys them in
                # chunks; the kill comes once it has destroyed some, not all.
                due = datetime.now(UTC) - timedelta(days=1)
                seed(sweep.database, sweep.keys, count=DUE, due=due)
                target = DUE - chance.randint(10, 200)
                deadline = time.monotonic() + 120
                while _due_left(sweep) > target:
                    assert not load.failures, load.failures
                    assert time.monotonic() < deadline, "the sweep did not start"
                    load.stop.wait(0.02)
            elif workers == 1:
                load.stop.wait(chance.uniform(0, LATEST_KILL))
            kill_tree(server, tally)
    finally:
        if server.process.poll() is None:
            kill_tree(server, tally)


def _sweep_round(
    data_dir: Path, credentials: Credentials, tally: Tally, chance: random.Random, engine: Engine
) -> tuple[int, int]:
    """Rounds that kill the server while the sweep destroys, until a kill lands mid-way.

    The kill follows the poll that saw the sweep under way by a few milliseconds, but
    on a loaded machine the test's process can be kept off the CPU for longer than
    the rest of the sweep takes. Such a round is still a kill under load (everything
    is checked whole or destroyed); it just did not catch the sweep, so another round
    seeds a fresh batch and tries again. Returns what was left due, and the tries.
    """
    for attempt in range(1, SWEEP_TRIES + 1):
        _round(data_dir, credentials, tally, chance, name=f"one-{attempt}", sweep=engine)
        left = _due_left(engine)
        check_all_or_nothing(engine.database)
        assert left < DUE, "the kill came before the sweep destroyed anything"
        if left > 0:
            return left, attempt
    raise AssertionError(f"in {SWEEP_TRIES} rounds no kill came while the sweep destroyed")


def _carry_to_an_end(client: httpx.Client, credentials: Credentials, request_id: str) -> str:
    """Take a request through its next steps to a closed state: "found → closed"."""
    path = f"/api/v1/requests/{request_id}"
    steps = {
        "received": ("verify", {"method": "reply_from_address"}),
        "verified": ("start", None),
        "in_progress": ("complete", {"delivery": "mail"}),
    }
    found = ""
    for _ in range(len(steps) + 1):
        shown = client.get(path, headers=credentials.staff())
        assert shown.status_code == 200, shown.text
        state = shown.json()["state"]
        found = found or state
        if state not in steps:
            assert state in ("completed", "refused"), f"request {request_id} is {state}"
            return f"{found} → {state}" if found != state else str(state)
        step, body = steps[state]
        moved = client.post(f"{path}/{step}", json=body, headers=credentials.staff())
        assert moved.status_code == 200, f"{state} → {step}: {moved.text}"
    raise AssertionError(f"request {request_id} did not close")


def _check_after_restart(
    data_dir: Path, credentials: Credentials, tally: Tally, engine: Engine
) -> Counter[str]:
    # Every request on file, not only those whose entry was answered: a kill between
    # the commit and the reply leaves a request the client never heard of, and the
    # office must still be able to carry it to its end.
    with engine.database.connect() as connection:
        on_file = list(connection.execute(select(rights_requests.c.id)).scalars())
    assert set(on_file) >= set(tally.requests), "an acknowledged request was lost"
    server = start_server(data_dir)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for collection_id, (subject_id, email) in tally.collected.items():
                read = client.get(
                    f"/api/v1/collections/{collection_id}", headers=credentials.service()
                )
                assert read.status_code == 200, read.text
                assert read.json()["state"] == "active"
                items = client.get(
                    f"/api/v1/subjects/{subject_id}/items",
                    params={"purpose": "service"},
                    headers=credentials.service(),
                )
                assert items.status_code == 200, items.text
                assert items.json()["items"]["email"] == email
            ended = Counter(
                _carry_to_an_end(client, credentials, request_id)
                + ("" if request_id in tally.requests else " (its entry cut by a kill)")
                for request_id in on_file
            )
            for collection_id in tally.deleted:
                read = client.get(
                    f"/api/v1/collections/{collection_id}", headers=credentials.service()
                )
                assert read.status_code == 200, read.text
    finally:
        stop_server(server)  # graceful: the sealer seals what is left
    with engine.database.connect() as connection:
        requests = connection.execute(
            select(rights_requests.c.id, rights_requests.c.kind, rights_requests.c.delivered_at)
        ).all()
        queued = set(connection.execute(select(mail_outbox.c.reference)).scalars())
        states = dict(connection.execute(select(collections.c.id, collections.c.state)).all())
    assert {row.id for row in requests} == set(on_file)
    unanswered = [r.id for r in requests if r.delivered_at is None and r.id not in queued]
    assert unanswered == [], "a completed request's answer was neither sent nor queued"
    kinds = {row.id: row.kind for row in requests}
    for collection_id, request_id in tally.deleted.items():
        if request_id:  # its deletion request was entered, so it has now been carried out
            assert kinds[request_id] == "deletion"
            assert states[collection_id] == "destroyed"
    return ended


def _verify_log(data_dir: Path, engine: Engine) -> int:
    verified = haechi("audit", "verify", "--json", "--data", str(data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with engine.database.connect() as connection:
        events = connection.execute(select(func.count()).select_from(audit_events)).scalar_one()
        leaves = connection.execute(select(func.count()).select_from(audit_leaves)).scalar_one()
        top = connection.execute(select(func.max(audit_leaves.c.leaf_index))).scalar_one()
    assert '"ok": true' in verified.stdout
    assert f'"size": {events},' in verified.stdout, "an event was left unsealed"
    assert leaves == events == top + 1, "the leaves are not dense"
    return int(events)


def test_kill_9_under_load_loses_nothing_acknowledged(database: Database, tmp_path: Path) -> None:
    """It keeps every 201, leaves no torn collection, no stuck request and a log that verifies."""
    data_dir = tmp_path / "data"
    init_args = ("--database", database.url) if database.backend == "postgresql" else ()
    seeded = prepare(data_dir, settings=SETTINGS, init_args=init_args)
    credentials = Credentials(seeded["token"], seeded["session"])
    tally = Tally()
    chance = random.Random()
    engine = Engine.open(Settings.load(data_dir))
    try:
        left, tries = _sweep_round(data_dir, credentials, tally, chance, engine)
        _round(data_dir, credentials, tally, chance, name="two", workers=2)
        check_all_or_nothing(engine.database)
        ended = _check_after_restart(data_dir, credentials, tally, engine)
        events = _verify_log(data_dir, engine)
        intact, destroyed = check_all_or_nothing(engine.database)
    finally:
        engine.close()
    print(
        f"\nkill -9 ({database.backend}): 2 rounds and a restart, {tally.kills} kills; answers"
        f" {dict(tally.answers)}, calls cut by a kill {dict(tally.cut)};"
        f" {len(tally.collected) + len(tally.deleted)} collections acknowledged, lost 0;"
        f" sweep killed with {left} of {DUE} due left (try {tries});"
        f" requests found at the restart → closed {dict(ended)};"
        f" {intact} collections whole, {destroyed} destroyed with a certificate;"
        f" {events} events, all sealed, log verifies"
    )
