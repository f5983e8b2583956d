"""Group commit: several threads' writes in one SQLite transaction, each kept or not alone.

The batch is made for real: a first write holds the lead (its body waits inside its
transaction) while three more queue; the next leader then runs those three in one
transaction. The checks: each caller gets its own result or its own error (even a
body's SystemExit), a body that raises leaves nothing (its own savepoints included),
the others commit; a failed commit or a transaction SQLite ended on its own fails every
write of the batch, each caller with an exception object of its own, and keeps none of
them; a caller interrupted while queued leaves the queue working.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from haechi.storage import group_commit
from haechi.storage.database import create_db_engine
from tests.conftest import Database


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[SqlEngine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE rows (name TEXT PRIMARY KEY, thread INTEGER)"))
        connection.execute(text("CREATE TABLE parents (id INTEGER PRIMARY KEY)"))
        connection.execute(
            text(
                "CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES "
                "parents (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    yield engine
    engine.dispose()


def _names(engine: SqlEngine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT name FROM rows")).scalars())


class Writers:
    """Writes from threads of their own; what each caller got back, or raised."""

    def __init__(self, engine: SqlEngine):
        self.engine = engine
        self.threads: list[threading.Thread] = []
        self.got: dict[str, Any] = {}
        self.cursors: dict[str, int] = {}
        self.ran_in: dict[str, int] = {}

    def insert(
        self, name: str, then: Callable[[Any], object] | None = None
    ) -> Callable[[Any], str]:
        def body(cursor: Any) -> str:
            self.cursors[name] = id(cursor)
            self.ran_in[name] = threading.get_ident()
            cursor.execute("INSERT INTO rows VALUES (?, ?)", (name, threading.get_ident()))
            if then is not None:
                then(cursor)
            return f"{name} written"

        return body

    def start(self, name: str, body: Callable[[Any], str]) -> None:
        def run() -> None:
            try:
                self.got[name] = group_commit.write(self.engine, body)
            except Exception as exc:
                self.got[name] = exc

        thread = threading.Thread(target=run, name=name)
        self.threads.append(thread)
        thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), f"{thread.name} never returned"


def _batch_behind_a_leader(
    engine: SqlEngine, writers: Writers, bodies: dict[str, Any], lead: str = "lead"
) -> None:
    """``lead`` writes and waits while the ``bodies`` queue; then all run."""
    release = threading.Event()
    writers.start(lead, writers.insert(lead, then=lambda _: release.wait(30)))
    queue = group_commit._queue(engine)
    _until(lambda: lead in writers.ran_in)
    for queued, (name, body) in enumerate(bodies.items(), start=1):
        writers.start(name, body)
        _until(lambda queued=queued: len(queue.waiting) == queued)  # type: ignore[misc]
    release.set()
    writers.join()


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_queued_writes_share_one_transaction_and_fail_alone(engine: SqlEngine) -> None:
    """Three queued writes run in one transaction; the one that raises leaves nothing."""
    writers = Writers(engine)

    def boom(_: Any) -> None:
        raise ValueError("b refuses")

    _batch_behind_a_leader(
        engine,
        writers,
        {"a": writers.insert("a"), "b": writers.insert("b", then=boom), "c": writers.insert("c")},
    )
    assert writers.got["lead"] == "lead written"
    assert writers.got["a"] == "a written"
    assert writers.got["c"] == "c written"
    assert isinstance(writers.got["b"], ValueError)
    assert str(writers.got["b"]) == "b refuses"
    assert _names(engine) == {"lead", "a", "c"}
    # a, b and c ran on one cursor, in a's thread (the leader after "lead").
    assert writers.cursors["a"] == writers.cursors["b"] == writers.cursors["c"]
    assert writers.ran_in["a"] == writers.ran_in["b"] == writers.ran_in["c"]
    assert writers.ran_in["a"] != writers.ran_in["lead"]
    assert not group_commit._queue(engine).leading  # the lead was given up


def test_a_failed_commit_fails_every_write_of_the_batch(engine: SqlEngine) -> None:
    """A deferred foreign key fails at COMMIT: no caller is told of a write not kept."""
    writers = Writers(engine)

    def orphan(cursor: Any) -> None:
        cursor.execute("INSERT INTO children VALUES (1, 99)")  # no parent 99

    _batch_behind_a_leader(
        engine,
        writers,
        {"a": writers.insert("a"), "b": writers.insert("b", then=orphan), "c": writers.insert("c")},
    )
    assert writers.got["lead"] == "lead written"
    for name in "abc":
        assert isinstance(writers.got[name], IntegrityError), writers.got[name]
    assert _names(engine) == {"lead"}


def test_a_transaction_sqlite_ended_fails_the_whole_batch(engine: SqlEngine) -> None:
    """As after a full disk: what the batch wrote is gone, so every caller hears of it."""
    writers = Writers(engine)

    def ended(cursor: Any) -> None:
        cursor.execute("ROLLBACK")  # what SQLite does itself on some errors
        raise sqlite3.OperationalError("database or disk is full")

    _batch_behind_a_leader(
        engine,
        writers,
        {"a": writers.insert("a"), "b": writers.insert("b", then=ended), "c": writers.insert("c")},
    )
    for name in "abc":
        assert isinstance(writers.got[name], OperationalError), writers.got[name]
    assert "full" in str(writers.got["a"])
    assert _names(engine) == {"lead"}
    # The connection is usable again: the next write commits.
    assert group_commit.write(engine, Writers(engine).insert("after")) == "after written"
    assert _names(engine) == {"lead", "after"}


def test_a_transaction_ended_in_the_run_with_savepoints_fails_the_whole_batch(
    engine: SqlEngine,
) -> None:
    """Body b refuses in the first run (so the batch runs again), then ends the transaction."""
    writers = Writers(engine)
    runs: list[int] = []

    def refuses_then_ends(cursor: Any) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise ValueError("b refuses")  # the savepoint-free run is rolled back
        cursor.execute("ROLLBACK")  # as SQLite does itself after a full disk
        raise sqlite3.OperationalError("database or disk is full")

    _batch_behind_a_leader(
        engine,
        writers,
        {
            "a": writers.insert("a"),
            "b": writers.insert("b", then=refuses_then_ends),
            "c": writers.insert("c"),
        },
    )
    assert len(runs) == 2
    for name in "abc":
        assert isinstance(writers.got[name], OperationalError), writers.got[name]
    assert _names(engine) == {"lead"}
    assert group_commit.write(engine, Writers(engine).insert("after")) == "after written"


def test_a_failure_of_the_batch_reaches_each_caller_as_its_own_exception(
    engine: SqlEngine,
) -> None:
    """Callers raise it in their own threads: one object each, never shared."""
    writers = Writers(engine)

    def orphan(cursor: Any) -> None:
        cursor.execute("INSERT INTO children VALUES (2, 98)")

    _batch_behind_a_leader(
        engine,
        writers,
        {"a": writers.insert("a"), "b": writers.insert("b", then=orphan), "c": writers.insert("c")},
    )
    errors = [writers.got[name] for name in "abc"]
    assert all(isinstance(error, IntegrityError) for error in errors)
    assert len({id(error) for error in errors}) == 3


def test_what_a_body_raises_goes_to_its_own_caller_even_system_exit(engine: SqlEngine) -> None:
    """A body's SystemExit is its caller's: the leader goes on, the others commit."""
    writers = Writers(engine)

    def leave(_: Any) -> None:
        raise SystemExit("b's body exits")

    got: dict[str, BaseException] = {}

    def run_b() -> None:
        try:
            group_commit.write(engine, writers.insert("b", then=leave))
        except BaseException as exc:  # SystemExit, caught to be looked at
            got["b"] = exc

    release = threading.Event()
    writers.start("lead", writers.insert("lead", then=lambda _: release.wait(30)))
    queue = group_commit._queue(engine)
    _until(lambda: "lead" in writers.ran_in)
    writers.start("a", writers.insert("a"))
    _until(lambda: len(queue.waiting) == 1)
    b = threading.Thread(target=run_b)
    b.start()
    _until(lambda: len(queue.waiting) == 2)
    writers.start("c", writers.insert("c"))
    _until(lambda: len(queue.waiting) == 3)
    release.set()
    writers.join()
    b.join(timeout=30)
    assert isinstance(got["b"], SystemExit)
    assert writers.got["a"] == "a written"
    assert writers.got["c"] == "c written"
    assert _names(engine) == {"lead", "a", "c"}


def test_a_savepoint_a_body_left_open_goes_with_its_rollback(engine: SqlEngine) -> None:
    """A body's own savepoint, open when it raises, is rolled back with the body."""
    writers = Writers(engine)

    def nested(cursor: Any) -> None:
        cursor.execute("SAVEPOINT inner")
        cursor.execute("INSERT INTO rows VALUES ('b-inner', 0)")
        raise ValueError("b refuses")

    _batch_behind_a_leader(
        engine,
        writers,
        {"a": writers.insert("a"), "b": writers.insert("b", then=nested), "c": writers.insert("c")},
    )
    assert isinstance(writers.got["b"], ValueError)
    assert _names(engine) == {"lead", "a", "c"}


class Interrupted(Exception):
    """What the test's signal handler raises in the main thread."""


def test_a_caller_interrupted_while_queued_leaves_the_queue(engine: SqlEngine) -> None:
    """A signal in the main thread while its write waits: the write is taken out.

    The writes queued behind it, and later ones, still commit.
    """
    assert threading.current_thread() is threading.main_thread()
    writers = Writers(engine)
    release = threading.Event()
    writers.start("lead", writers.insert("lead", then=lambda _: release.wait(30)))
    queue = group_commit._queue(engine)
    _until(lambda: "lead" in writers.ran_in)

    def behind_then_signal() -> None:
        _until(lambda: len(queue.waiting) == 1)  # the main thread's write is queued
        writers.start("b", writers.insert("b"))
        _until(lambda: len(queue.waiting) == 2)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)  # type: ignore[arg-type]

    def interrupt(*_: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    helper = threading.Thread(target=behind_then_signal)
    try:
        helper.start()
        with pytest.raises(Interrupted):
            group_commit.write(engine, writers.insert("main"))
    finally:
        signal.signal(signal.SIGUSR1, previous)
        release.set()
        helper.join(timeout=30)
    writers.join()
    assert writers.got["b"] == "b written"
    assert group_commit.write(engine, writers.insert("later")) == "later written"
    assert _names(engine) == {"lead", "b", "later"}
    assert not queue.leading
    assert not queue.waiting


def test_many_threads_each_get_their_own_answer(engine: SqlEngine) -> None:
    """40 threads × 25 writes: every caller gets its own result; every row is there."""
    got: dict[str, str] = {}
    lock = threading.Lock()

    def run(thread: int) -> None:
        for n in range(25):
            name = f"t{thread}-{n}"

            def body(cursor: Any, name: str = name) -> str:
                cursor.execute("INSERT INTO rows VALUES (?, ?)", (name, thread))
                return name

            answer = group_commit.write(engine, body)
            with lock:
                got[name] = answer

    threads = [threading.Thread(target=run, args=(t,)) for t in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(name == answer for name, answer in got.items())
    assert len(got) == 1000
    assert _names(engine) == set(got)
    assert not group_commit._queue(engine).leading


def test_each_write_is_its_own_transaction_elsewhere(database: Database) -> None:
    """On either database a body that raises leaves nothing; on PostgreSQL no queue."""
    mark = "%s" if database.backend == "postgresql" else "?"

    def insert(subject_id: str, *, then_raise: bool = False) -> Callable[[Any], str]:
        def body(cursor: Any) -> str:
            cursor.execute(
                f"INSERT INTO subjects (id, created_at) VALUES ({mark}, {mark})",
                (subject_id, "2026-12-01 00:00:00"),
            )
            if then_raise:
                raise ValueError("refused")
            return subject_id

        return body

    assert group_commit.write(database.engine, insert("gc-kept")) == "gc-kept"
    with pytest.raises(ValueError, match="refused"):
        group_commit.write(database.engine, insert("gc-refused", then_raise=True))
    with database.engine.connect() as connection:
        found = connection.execute(text("SELECT id FROM subjects WHERE id LIKE 'gc-%'"))
        assert set(found.scalars()) == {"gc-kept"}
    if database.backend == "postgresql":
        assert database.engine not in group_commit._QUEUES


def _connection_of(engine: SqlEngine) -> Any:
    """The DBAPI connection a write's body ran on."""
    return group_commit.write(engine, lambda cursor: cursor.connection)


def test_the_leaders_keep_one_connection_until_it_breaks_or_the_pool_goes(
    engine: SqlEngine,
) -> None:
    """One connection for every batch (its page cache stays warm), closed by dispose()."""
    first = _connection_of(engine)
    assert _connection_of(engine) is first
    assert engine.pool.checkedout() == 0  # detached: the pool's count is not spent on it

    # A connection closed (by _rollback(), after an error SQLite could not undo) or left
    # in a transaction is not used again: the next leader opens another.
    first.close()
    second = _connection_of(engine)
    assert second is not first
    second.execute("BEGIN")
    assert _connection_of(engine) is not second
    second = _connection_of(engine)

    engine.dispose()
    with pytest.raises(sqlite3.ProgrammingError):  # dispose() closed it
        second.execute("SELECT 1")
    third = _connection_of(engine)
    assert third is not second
    assert group_commit.write(engine, lambda cursor: cursor.execute("SELECT 1").fetchone()) == (1,)


def test_a_dropped_engine_closes_its_kept_connection(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'dropped.db'}")
    kept = _connection_of(engine)
    del engine
    import gc

    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError):
        kept.execute("SELECT 1")


_HOLD_WRITER_LOCK = """
import fcntl, sys
with open(sys.argv[1], "ab") as lock:
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


@contextmanager
def _another_process_holding_the_lock_file(engine: SqlEngine) -> Iterator[subprocess.Popen[str]]:
    """A second process holding ``<file>-writers`` (made first here, as a writer would)."""
    with group_commit.writer_lock(engine):
        pass
    path = f"{engine.url.database}-writers"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_WRITER_LOCK, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(30)


def test_writers_of_other_processes_queue_on_the_lock_file(engine: SqlEngine) -> None:
    """Another process holding ``<file>-writers`` holds every writer of this one back."""
    path = f"{engine.url.database}-writers"
    with _another_process_holding_the_lock_file(engine) as holder:
        written = threading.Event()

        def write() -> None:
            group_commit.write(
                engine, lambda cursor: cursor.execute("INSERT INTO rows VALUES ('late', 0)")
            )
            written.set()

        writer = threading.Thread(target=write)
        writer.start()
        assert not written.wait(0.5)  # queued behind the other process
        assert _names(engine) == set()
        assert holder.stdin is not None
        holder.stdin.close()  # the holder exits: the kernel lets go of its lock
        assert written.wait(30)
        writer.join(30)
        assert _names(engine) == {"late"}
    database_mode = Path(str(engine.url.database)).stat().st_mode & 0o777
    assert (Path(path).stat().st_mode & 0o777) == database_mode == 0o600


def test_a_batch_runs_without_savepoints_until_a_body_raises(engine: SqlEngine) -> None:
    """All bodies fine: no savepoint at all. One raises: run again, a savepoint each."""
    writers = Writers(engine)
    _connection_of(engine)  # the leaders' connection now exists: trace what it runs
    traced: list[str] = []
    group_commit._queue(engine).connection.set_trace_callback(traced.append)

    _batch_behind_a_leader(
        engine, writers, {name: writers.insert(name) for name in ("a", "b", "c")}
    )
    assert _names(engine) == {"lead", "a", "b", "c"}
    assert not [line for line in traced if "SAVEPOINT" in line]
    assert sum("INSERT INTO rows" in line for line in traced) == 4  # each body once

    traced.clear()

    def boom(_: Any) -> None:
        raise ValueError("e refuses")

    _batch_behind_a_leader(
        engine,
        writers,
        {"d": writers.insert("d"), "e": writers.insert("e", then=boom), "f": writers.insert("f")},
        lead="lead2",
    )
    assert isinstance(writers.got["e"], ValueError)
    assert writers.got["d"] == "d written"
    assert writers.got["f"] == "f written"
    assert _names(engine) == {"lead", "a", "b", "c", "lead2", "d", "f"}
    # The first run stopped at e and was rolled back; the second ran all three.
    assert [line for line in traced if line in ("ROLLBACK", "COMMIT")] == [
        "COMMIT",  # the leader's own write, alone
        "ROLLBACK",
        "COMMIT",
    ]
    assert sum("SAVEPOINT haechi_write_" in line for line in traced) == 3


def test_a_holder_that_never_lets_go_costs_a_wait_not_a_hang(
    engine: SqlEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past WAIT_SECONDS the writer goes on to SQLite's lock (whose busy timeout bounds it)."""
    from haechi.storage import prepared

    monkeypatch.setattr(prepared, "WAIT_SECONDS", 0.3)
    with _another_process_holding_the_lock_file(engine):
        group_commit.write(
            engine, lambda cursor: cursor.execute("INSERT INTO rows VALUES ('past', 0)")
        )
        assert _names(engine) == {"past"}


def test_a_lock_file_that_cannot_be_opened_leaves_writes_working(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'odd.db'}")
    (tmp_path / "odd.db-writers").mkdir()  # not a file: open() fails
    try:
        assert group_commit.write(engine, lambda cursor: cursor.execute("SELECT 2").fetchone()) == (
            2,
        )
    finally:
        engine.dispose()


def test_dispose_inside_a_write_does_not_deadlock(engine: SqlEngine) -> None:
    """The lock is re-entrant in its thread: the body's own dispose() returns."""
    outcome: list[object] = []

    def body(cursor: Any) -> str:
        cursor.execute("INSERT INTO rows VALUES ('before-dispose', 0)")
        engine.dispose()  # closes the leader's connection under it
        return "returned"

    def run() -> None:
        try:
            outcome.append(group_commit.write(engine, body))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    assert len(outcome) == 1  # an answer, either way: its connection went away mid-write
    # The next write opens a new connection, and the lock is free for other threads.
    assert _connection_of(engine) is not None


def test_a_memory_database_keeps_its_connection_in_the_pool() -> None:
    """sqlite:// lives in its connection: writes must not detach it from the pool."""
    engine = create_db_engine("sqlite://")
    try:
        group_commit.write(engine, lambda cursor: cursor.execute("CREATE TABLE t (x INTEGER)"))
        group_commit.write(engine, lambda cursor: cursor.execute("INSERT INTO t VALUES (1)"))
        assert group_commit.write(
            engine, lambda cursor: cursor.execute("SELECT count(*) FROM t").fetchone()
        ) == (1,)
    finally:
        engine.dispose()
