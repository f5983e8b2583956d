"""The retention sweep: separate what a statute keeps, destroy the rest, certify each.

The sweep (see :mod:`haechi.retention.plan` for what is due):

1. purges separated rows of collections already destroyed (what a crash inside a
   commit can leave on SQLite, see :func:`~haechi.retention.separation.purge_separated`);
2. moves due collections whose purpose has a legal hold to the separated store;
3. destroys separated collections whose hold has ended, deleting their separated
   copies in the transaction that certifies them;
4. destroys every other due collection.

It is a job: it owns its transactions. Work goes in chunks of ``chunk_size``
collections, and each chunk is one transaction holding its deletions, its
certificates and its audit events, so a crash at any point leaves every collection
either intact or destroyed with its certificate, and the next sweep finishes the work.
On PostgreSQL, chunks are claimed with ``FOR UPDATE SKIP LOCKED``: many sweepers may
run at once, each collection is destroyed by exactly one of them (a unique
certificate per collection backs this up), and no other transaction changes a
claimed collection before its chunk commits. SQLite serialises writers: there each
chunk queues for the write lock with the server's writers
(:class:`~haechi.storage.prepared.WriterLock`), and the chunks are sized to hold it for
about :data:`CHUNK_SECONDS` each, so an audited read waits at most about that long
behind the sweep instead of behind a chunk of ``chunk_size``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, select
from sqlalchemy import Engine as SqlEngine

from haechi.crypto.epochs import Store
from haechi.crypto.keys import KeyProvider
from haechi.errors import ConfigurationError
from haechi.policy.schema import Policy
from haechi.retention.certify import Batch, certify
from haechi.retention.plan import LIVE_STATES, METHOD, Plan, Progress, StepHook, SweepReport
from haechi.retention.separation import copy_to_separated, delete_separated, let_go, purge_separated
from haechi.storage.keyring import shred_keys
from haechi.storage.prepared import POLL_MAX_SECONDS, writer_lock
from haechi.storage.tables import collections, items

__all__ = ["LIVE_STATES", "METHOD", "Progress", "StepHook", "SweepReport", "Sweeper"]

log = logging.getLogger("haechi.retention")

#: SQLite: how long one chunk should hold the write lock that every audited read needs.
CHUNK_SECONDS = 0.02
#: SQLite: the smallest chunk, however slow the chunks are.
MIN_CHUNK = 50


class Sweeper:
    """Runs sweeps over one database for one policy.

    ``between`` is called between the steps of each chunk (see
    :data:`~haechi.retention.plan.StepHook`); a sweep in service passes none.
    ``keys`` re-wrap data keys moving to the separated store: a sweeper without them
    destroys only (one with work to separate refuses to start).
    """

    def __init__(
        self,
        database: SqlEngine,
        *,
        policy: Policy,
        keys: KeyProvider | None = None,
        name: str = "sweep",
        chunk_size: int = 2000,
        between: StepHook | None = None,
    ):
        self.database = database
        self.policy = policy
        self.keys = keys
        self.name = name
        self.chunk_size = chunk_size
        self._size = chunk_size  # on SQLite, adapted to CHUNK_SECONDS as chunks commit
        self.plan = Plan(policy)
        self._between = between
        self._postgres = database.dialect.name == "postgresql"

    def overdue(self, connection: Connection, now: datetime, *, limit: int = 100) -> list[str]:
        """Ids of collections whose destruction is past due + grace (at most ``limit``)."""
        return self.plan.overdue_ids(connection, now, limit=limit)

    # -- the run ------------------------------------------------------------------

    def run(
        self, *, now: datetime, dry_run: bool = False, progress: Progress | None = None
    ) -> SweepReport:
        """Sweep once as of ``now``; a dry run changes nothing and reports what would."""
        report = SweepReport(now=now, dry_run=dry_run)
        with self.database.connect() as connection:
            counts = self.plan.count(connection, now)
            connection.rollback()
        report.expired = counts.to_separate + counts.to_destroy
        report.overdue, report.overdue_ids = counts.overdue, counts.overdue_ids
        if dry_run:
            report.separated = counts.to_separate
            report.destroyed = counts.to_destroy + counts.hold_ended
            return report
        if report.overdue:
            # Ids only; the service was likely down. They are destroyed below.
            log.warning(
                "%d collection(s) overdue for destruction: %s",
                report.overdue,
                ", ".join(report.overdue_ids),
            )
        with self.database.begin() as connection:
            purge_separated(connection, now=now)
        batch = Batch()
        report.separated = self._separate(now, counts.to_separate, progress)
        destroyed = self._destroy_separated(now, batch, counts.hold_ended, progress)
        destroyed += self._destroy_live(now, batch, counts.to_destroy, progress)
        report.destroyed = destroyed
        report.batch_id = batch.id
        self.checkpoint()
        return report

    @contextmanager
    def _chunk(self) -> Iterator[Connection]:
        """One chunk's transaction; on SQLite in the writers' queue, and timed."""
        if self._postgres:
            with self.database.begin() as connection:
                yield connection
            return
        with writer_lock(self.database):
            started = time.monotonic()
            with self.database.begin() as connection:
                yield connection
            took = time.monotonic() - started
        # The file lock is not a queue: a writer waiting for it tries again within
        # POLL_MAX_SECONDS, and the sweep, taking it straight back, would win each time.
        time.sleep(2 * POLL_MAX_SECONDS)
        # The next chunk in proportion to this one's time, at most chunk_size.
        wanted = int(self._size * CHUNK_SECONDS / max(took, 1e-3))
        self._size = max(min(MIN_CHUNK, self.chunk_size), min(self.chunk_size, wanted))

    def _claim(
        self, connection: Connection, condition: Any, columns: Sequence[Any]
    ) -> list[Row[Any]]:
        query = select(*columns).where(condition).limit(self._size)
        if self._postgres:
            query = query.with_for_update(skip_locked=True, of=collections)
        return list(connection.execute(query))

    def _step(self, step: str, ids: list[str]) -> None:
        if self._between is not None:
            self._between(step, ids)

    # -- separation ---------------------------------------------------------------

    def _separate(self, now: datetime, total: int, progress: Progress | None) -> int:
        """Move due collections under a legal hold to the separated store, still sealed.

        On PostgreSQL the claim, the copy and the main store's letting go are one
        transaction under the claim's row locks. On SQLite the copy commits first
        (idempotently), then the main store lets go in a transaction of its own: a
        WAL-mode commit over two files is not atomic across them, and a torn commit
        must never lose the main copy before the separated one exists. A crash
        between the two leaves a harmless copy that the next sweep redoes; a
        collection changed in between is re-checked by :func:`let_go`.
        """
        if not self.plan.held:
            return 0
        moved = 0
        columns = (
            collections.c.id,
            collections.c.purpose,
            collections.c.due_at,
            collections.c.updated_at,
        )
        condition = self.plan.due_live(now, held=True)
        while True:
            with self._chunk() as connection:
                rows = self._claim(connection, condition, columns)
                if not rows:
                    break
                if self.keys is None:
                    raise ConfigurationError("a sweep that separates data needs the key provider")
                copy_to_separated(
                    connection, list(rows), keys=self.keys, policy=self.policy, now=now
                )
                if self._postgres:
                    self._step("copied", [row.id for row in rows])
                    moved += self._let_go(connection, rows, now)
            if not self._postgres:
                self._step("copied", [row.id for row in rows])
                with self._chunk() as connection:
                    moved += self._let_go(connection, rows, now)
            if progress:
                progress("separate", moved, total)
        return moved

    def _let_go(self, connection: Connection, rows: list[Row[Any]], now: datetime) -> int:
        return let_go(connection, rows, policy=self.policy, now=now, actor=self.name)

    # -- destruction ----------------------------------------------------------------

    def _destroy_separated(
        self, now: datetime, batch: Batch, total: int, progress: Progress | None
    ) -> int:
        """Destroy separated collections whose legal hold has ended, copies and all."""
        done = 0
        while True:
            with self._chunk() as connection:
                rows = self._claim(connection, self.plan.hold_ended(now), (collections.c.id,))
                if not rows:
                    break
                ids = [row.id for row in rows]
                done += self._certify(connection, ids, now, batch, separated=True)
                self._step("certified", ids)
                delete_separated(connection, ids, now=now)
            if progress:
                progress("destroy held", done, total)
        return done

    def _destroy_live(
        self, now: datetime, batch: Batch, total: int, progress: Progress | None
    ) -> int:
        """Destroy due collections, a chunk per transaction, in the due index's order."""
        done = 0
        condition = self.plan.due_live(now, held=False)
        while True:
            with self._chunk() as connection:
                rows = self._claim(connection, condition, (collections.c.id,))
                if not rows:
                    break
                ids = [row.id for row in rows]
                done += self._certify(connection, ids, now, batch, separated=False)
                # The key first: without it the ciphertexts are noise, wherever copies are.
                shred_keys(connection, Store.MAIN, ids, now)
                connection.execute(delete(items).where(items.c.collection_id.in_(ids)))
            if progress:
                progress("destroy", done, total)
        return done

    def _certify(
        self,
        connection: Connection,
        ids: list[str],
        now: datetime,
        batch: Batch,
        *,
        separated: bool,
    ) -> int:
        return certify(
            connection,
            ids,
            now=now,
            batch=batch,
            actor=self.name,
            grace=self.plan.grace,
            separated=separated,
        )

    def checkpoint(self) -> None:
        """On SQLite, move the WAL into the files and truncate it (no old frames stay)."""
        if self._postgres:
            return
        raw = self.database.raw_connection()
        try:
            cursor = raw.cursor()
            for schema in ("main", "haechi_separated"):
                cursor.execute(f"PRAGMA {schema}.wal_checkpoint(TRUNCATE)")
                busy = cursor.fetchone()
                if busy and busy[0]:
                    log.warning("WAL checkpoint of %s was blocked by a reader", schema)
            cursor.close()
        finally:
            raw.close()
