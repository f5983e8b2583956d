"""Group commit on SQLite: the write transactions of a process's threads, several per commit.

SQLite has one writer at a time. Under load, every request thread queues for it, and
each transaction pays for its own ``BEGIN IMMEDIATE`` and ``COMMIT`` and for handing
the lock to the next thread, which must first win back the interpreter lock: under
eight concurrent collections that handover and the two statements took about half of
the time the write lock was held (docs/benchmarks.md).

:func:`write` runs ``body(cursor)`` for its caller, and returns what it returns or
raises what it raised, as a transaction of its own would. Callers that arrive while
another thread writes queue up; the thread that finds no one writing leads: it runs
every queued body in one transaction, commits once, then wakes their callers and hands
the lead to the next queued thread, if any.

- A body that raises has its own statements rolled back; the others commit. The batch
  first runs with no savepoint; if a body raises, that transaction is rolled back and
  the batch runs again with a savepoint per body, so a body may run twice: a body must
  have no effect outside the transaction that a second run would repeat. If an error
  ends the whole transaction (SQLite rolls back on its own after a full disk or an I/O
  error), or the commit fails, every body of the batch gets that error and nothing of
  theirs is kept: no caller is ever told of a write that was not committed.
- Each caller returns only after the commit that holds its work.
- Bodies run in the leader's thread, in the order they were queued: they must take
  everything they need as arguments (no thread-local state), must not end the
  transaction themselves, and must not name a savepoint ``haechi_write_*``. What a body
  raises, even ``SystemExit``, goes to its own caller.
- A caller interrupted while queued (a signal in the main thread) takes its write out
  of the queue; one whose write a leader has already taken waits for that batch first.

On PostgreSQL, which has row locks and many writers at once, each body is a
transaction of its own (:func:`~haechi.storage.prepared.raw_transaction`).
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, event

from haechi.storage.prepared import (
    raw_transaction,
    sqlite_file,
    translated_errors,
    writer_lock,
)

__all__ = ["MAX_BATCH", "write"]

T = TypeVar("T")

#: Most bodies one transaction runs; more wait for the next leader's.
MAX_BATCH = 64


def _held() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class _Write:
    body: Callable[[Any], Any]
    # Held from the start: the caller waits by acquiring it, and is woken by its
    # release (once when handed the lead, once when done). A bare lock costs a
    # fraction of an Event, which builds a Condition per write.
    woken: threading.Lock = field(default_factory=_held)
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class _Queue:
    """The writes of one engine waiting for a leader, whether one is at work, its connection.

    The leaders of one engine all write on one connection of their own, made by the
    engine's pool (so with its pragmas) and detached from it. SQLite empties a
    connection's page cache at the start of a transaction whenever another connection
    has written since its last one; on a connection of its own, the writer finds the
    pages it wrote last still cached (its indexes' upper levels above all), where a
    connection from the pool would re-read them from the file. Only the current
    leader touches it. Held as the bare DBAPI connection, it keeps nothing of the
    engine alive.
    """

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.waiting: deque[_Write] = deque()
        self.leading = False
        self.connection: Any = None  # an sqlite3.Connection, or None

    def writer_connection(self, engine: Engine) -> Any:
        """The leaders' connection: the one kept, or a new one from ``engine``'s pool."""
        if self.connection is not None and not _reusable(self.connection, engine):
            self.drop()
        if self.connection is None:
            pooled = engine.raw_connection()
            pooled.detach()  # the pool lets go of it, and may open another in its place
            self.connection = pooled.dbapi_connection
        return self.connection

    def drop(self) -> None:
        """Close the kept connection; the next leader opens another."""
        held, self.connection = self.connection, None
        if held is not None:
            held.close()  # rolls back what it may hold; a second close is a no-op


def _disposed(queue: _Queue, engine: Engine) -> None:
    # Engine.dispose() closes every connection of the pool it replaces: this one too,
    # once a batch at work has ended.
    with writer_lock(engine):
        queue.drop()


_QUEUES: weakref.WeakKeyDictionary[Engine, _Queue] = weakref.WeakKeyDictionary()
_QUEUES_LOCK = threading.Lock()


def _queue(engine: Engine) -> _Queue:
    with _QUEUES_LOCK:
        queue = _QUEUES.get(engine)
        if queue is None:
            queue = _QUEUES[engine] = _Queue()
            event.listen(engine, "engine_disposed", partial(_disposed, queue))
            # An engine dropped undisposed: its connection is closed, not left for the
            # garbage collector to find checked out.
            weakref.finalize(engine, queue.drop)
        return queue


def write(engine: Engine, body: Callable[[Any], T]) -> T:
    """``body(cursor)`` committed, alone or beside other threads' (module docstring)."""
    if engine.dialect.name != "sqlite":
        with raw_transaction(engine) as cursor:
            return body(cursor)
    queue = _queue(engine)
    own = _Write(body)
    with queue.mutex:
        queue.waiting.append(own)
        lead = not queue.leading
        queue.leading = True
    if not lead:
        try:
            own.woken.acquire()
        except BaseException:  # interrupted while queued (a signal in the main thread)
            _leave(queue, own)
            raise
        # Woken with the work done, or handed the lead with it still queued.
    if not own.done:
        _lead(engine, queue, own)
    assert own.done
    if own.error is not None:
        raise own.error
    return own.result  # type: ignore[no-any-return]


def _leave(queue: _Queue, own: _Write) -> None:
    """Take an interrupted caller's write out of the queue, or wait for its batch.

    A write still queued is removed, and the lead it may have been handed just now
    goes to the next one. A write a leader has taken is being written: it is waited
    for, so that the caller is never gone while its body may still commit.
    """
    with queue.mutex:
        if own in queue.waiting:
            handed = own.woken.acquire(blocking=False)  # released only to hand the lead
            queue.waiting.remove(own)
            if handed:
                _hand_on(queue)
            return
    while True:  # taken by a leader: its body may be running now; the batch is brief
        try:
            own.woken.acquire()
        # A second interrupt: keep waiting, the batch's end is near and must be seen.
        except BaseException:  # noqa: S112
            continue
        return


def _hand_on(queue: _Queue) -> None:
    """Wake the next leader, or mark that none leads (under ``queue.mutex``)."""
    if queue.waiting:
        queue.waiting[0].woken.release()  # its write is still queued: it leads
    else:
        queue.leading = False


def _lead(engine: Engine, queue: _Queue, own: _Write) -> None:
    """Run what is queued (the leader's own write first) in one transaction; hand on."""
    batch: list[_Write] = []
    try:
        with queue.mutex:
            while queue.waiting and len(batch) < MAX_BATCH:
                batch.append(queue.waiting.popleft())
        _transact(engine, queue, batch)
    finally:
        for item in batch:
            if not item.done:  # only if the leader itself was interrupted
                item.error = RuntimeError("the write was interrupted before its commit")
                item.done = True
        with queue.mutex:
            if own in queue.waiting:  # interrupted before it took the batch
                queue.waiting.remove(own)
            _hand_on(queue)
        for item in batch:
            item.woken.release()  # the leader's own included: it holds its lock


def _transact(engine: Engine, queue: _Queue, batch: list[_Write]) -> None:
    """One transaction for ``batch``: a savepoint per body when there are several."""
    # A memory database lives in its connection (one per thread, in its pool): it is
    # checked out and back for each batch, never kept.
    memory = sqlite_file(engine) is None
    with writer_lock(engine):
        pooled: Any = None
        try:
            with translated_errors(engine):
                if memory:
                    pooled = engine.raw_connection()
                    dbapi = pooled.dbapi_connection
                else:
                    dbapi = queue.writer_connection(engine)
                cursor = dbapi.cursor()
        except Exception as exc:
            _fail(batch, exc)
            if pooled is not None:
                pooled.close()
            return
        try:
            _run(engine, dbapi, cursor, batch)
        finally:
            reusable = _reusable(dbapi, engine)
            if reusable:
                cursor.close()
            elif pooled is None:  # closed by _rollback(), or left in a transaction
                queue.drop()
            if pooled is not None and reusable:
                pooled.close()
            elif pooled is not None:
                pooled.invalidate()


def _run(engine: Engine, dbapi: Any, cursor: Any, batch: list[_Write]) -> None:
    if len(batch) > 1 and _run_whole(engine, dbapi, cursor, batch):
        return
    remaining = [item for item in batch if not item.done]
    if remaining:
        _run_saved(engine, dbapi, cursor, remaining)


def _run_whole(engine: Engine, dbapi: Any, cursor: Any, batch: list[_Write]) -> bool:
    """Run ``batch`` with no savepoint and commit; False if a body raised (rolled back).

    A body's interrupt (``KeyboardInterrupt``, ``SystemExit``) is its own caller's, as
    in :func:`_run_saved`: that body is done with it, and only the others run again.

    The common case, where every body succeeds, then costs no statement beyond the
    bodies' own: each savepoint and its release is a call into SQLite, and each call
    gives up the interpreter lock, which the leader must then win back from the
    request threads while every other writer waits.
    """
    error = engine.dialect.loaded_dbapi.Error
    if not _begin(engine, cursor, batch):
        return True
    results: list[Any] = []
    for item in batch:
        try:
            with translated_errors(engine):
                results.append(item.body(cursor))
        except BaseException as exc:
            if dbapi.in_transaction:
                _rollback(dbapi, cursor, error)
                if _reusable(dbapi, engine):
                    if not isinstance(exc, Exception):
                        item.error, item.done = exc, True
                    return False  # run again, a savepoint each: only this one is undone
            # SQLite ended the transaction itself (a full disk, an I/O error), or it
            # could not be rolled back: nothing of the batch is kept.
            item.error, item.done = exc, True
            _fail([other for other in batch if other is not item], exc)
            return True
    if not _commit(engine, dbapi, cursor, batch):
        return True
    for item, result in zip(batch, results, strict=True):
        item.result, item.done = result, True
    return True


def _run_saved(engine: Engine, dbapi: Any, cursor: Any, batch: list[_Write]) -> None:
    """Run ``batch`` with a savepoint per body (none for a body alone) and commit."""
    error = engine.dialect.loaded_dbapi.Error
    if not _begin(engine, cursor, batch):
        return
    alone = len(batch) == 1
    kept: list[_Write] = []
    for number, item in enumerate(batch):
        # A name of its own, so that a body's own savepoints cannot shadow it.
        savepoint = f"haechi_write_{number}"
        try:
            with translated_errors(engine):
                if not alone:
                    cursor.execute(f"SAVEPOINT {savepoint}")
                item.result = item.body(cursor)
                if not alone:
                    cursor.execute(f"RELEASE {savepoint}")
            kept.append(item)
            continue
        except BaseException as exc:  # each caller gets what its own body raised
            item.error, item.done = exc, True
        try:
            if alone or not dbapi.in_transaction:
                raise error("the transaction ended with the error")
            cursor.execute(f"ROLLBACK TO {savepoint}")
            cursor.execute(f"RELEASE {savepoint}")
        except error:
            # SQLite ended the whole transaction itself (a full disk, an I/O error):
            # what the bodies before this one wrote is gone, and those after it are
            # not run.
            if not alone:
                others = [other for other in batch if other is not item and other.error is None]
                assert item.error is not None
                _fail(others, item.error)
            _rollback(dbapi, cursor, error)
            return
    if not _commit(engine, dbapi, cursor, kept):
        return
    for item in kept:
        item.done = True


def _begin(engine: Engine, cursor: Any, batch: list[_Write]) -> bool:
    """``BEGIN IMMEDIATE``; if it fails, every write of ``batch`` gets the error."""
    try:
        with translated_errors(engine):
            cursor.execute("BEGIN IMMEDIATE")
    except Exception as exc:
        _fail(batch, exc)
        return False
    return True


def _commit(engine: Engine, dbapi: Any, cursor: Any, writes: list[_Write]) -> bool:
    """``COMMIT``; if it fails, ``writes`` get the error and the transaction is ended."""
    try:
        with translated_errors(engine):
            cursor.execute("COMMIT")
    except Exception as exc:
        _fail(writes, exc)
        _rollback(dbapi, cursor, engine.dialect.loaded_dbapi.Error)
        return False
    return True


def _fail(writes: list[_Write], exc: BaseException) -> None:
    """Fail ``writes`` with ``exc``: each its own copy, raised in its own thread."""
    for item in writes:
        item.result, item.error, item.done = None, _copy(exc), True


def _copy(exc: BaseException) -> BaseException:
    try:
        copied = copy.copy(exc)
    except Exception:  # an exception that cannot be rebuilt from its arguments
        return exc
    copied.__cause__ = exc.__cause__
    return copied


def _rollback(dbapi: Any, cursor: Any, error: type[Exception]) -> None:
    try:
        if dbapi.in_transaction:
            cursor.execute("ROLLBACK")
    except error:
        dbapi.close()


def _reusable(dbapi: Any, engine: Engine) -> bool:
    """Whether the connection is open with no transaction left on it."""
    try:
        return not dbapi.in_transaction
    except engine.dialect.loaded_dbapi.ProgrammingError:  # closed
        return False
