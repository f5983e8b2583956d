"""The retention sweep: separate what a statute keeps, destroy the rest, certify each.

A collection is *due* from its ``due_at`` (its expiry, or earlier when its purpose is
accomplished or consent is withdrawn) and *overdue* once the policy's grace period has
passed too. The sweep:

1. purges separated rows of collections already destroyed (the end of a sweep that
   died between its two stores);
2. moves due collections whose purpose has a legal hold to the separated store;
3. destroys separated collections whose hold has ended;
4. destroys every other due collection.

It is a job: it owns its transactions. Work goes in chunks of ``chunk_size``
collections, and each chunk is one transaction holding its deletions, its
certificates and its audit events, so a crash at any point leaves every collection
either intact or destroyed with its certificate, and the next sweep finishes the work.
On PostgreSQL, chunks are claimed with ``FOR UPDATE SKIP LOCKED``: many sweepers may
run at once, and each collection is destroyed by exactly one of them (a unique
certificate per collection backs this up). SQLite serialises writers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.dialects.postgresql import aggregate_order_by

from haechi.access.decision import CollectionState
from haechi.audit.events import event_values
from haechi.policy.schema import Policy
from haechi.storage.tables import (
    audit_events,
    collections,
    data_keys,
    destruction_batches,
    destruction_certificates,
    items,
    separated_items,
    separated_keys,
)
from haechi.storage.types import UtcDateTime

__all__ = ["LIVE_STATES", "METHOD", "Progress", "SweepReport", "Sweeper"]

log = logging.getLogger("haechi.retention")

# States whose data is still in the main store.
LIVE_STATES = (
    CollectionState.ACTIVE.value,
    CollectionState.HELD.value,
    CollectionState.SUSPENDED.value,
)
METHOD = "crypto-shred"

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while a sweep runs."""

_INSERT_EVENTS = insert(audit_events)
_SET_HOLD = (
    update(collections)
    .where(collections.c.id == bindparam("b_id"))
    .values(
        state=CollectionState.SEPARATED.value,
        hold_until=bindparam("b_hold_until"),
        updated_at=bindparam("b_now"),
    )
)


@dataclass
class SweepReport:
    """What a sweep found and did (or, in a dry run, would do)."""

    now: datetime
    dry_run: bool
    expired: int = 0
    separated: int = 0
    destroyed: int = 0
    overdue: int = 0
    overdue_ids: list[str] = field(default_factory=list)
    batch_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "expired": self.expired,
            "separated": self.separated,
            "destroyed": self.destroyed,
            "overdue": self.overdue,
            "overdue_ids": self.overdue_ids,
            "batch_id": self.batch_id,
        }


@dataclass
class _Batch:
    id: str | None = None
    destroyed: int = 0


class Sweeper:
    """Runs sweeps over one database for one policy."""

    def __init__(
        self,
        database: SqlEngine,
        *,
        policy: Policy,
        name: str = "sweep",
        chunk_size: int = 2000,
    ):
        self.database = database
        self.policy = policy
        self.name = name
        self.chunk_size = chunk_size
        self._postgres = database.dialect.name == "postgresql"
        self._held = sorted(
            name for name, purpose in policy.purposes.items() if purpose.legal_hold is not None
        )
        self._grace = timedelta(days=policy.destruction.grace_days)

    # -- the plan -----------------------------------------------------------------

    def _due_live(self, now: datetime, *, held: bool) -> Any:
        by_purpose = (
            collections.c.purpose.in_(self._held)
            if held
            else collections.c.purpose.notin_(self._held)
        )
        return and_(collections.c.state.in_(LIVE_STATES), collections.c.due_at <= now, by_purpose)

    @staticmethod
    def _hold_ended(now: datetime) -> Any:
        return and_(
            collections.c.state == CollectionState.SEPARATED.value,
            collections.c.hold_until <= now,
        )

    def _count(self, connection: Connection, condition: Any) -> int:
        return int(connection.execute(select(func.count()).where(condition)).scalar_one())

    def overdue(self, connection: Connection, now: datetime, *, limit: int = 100) -> list[str]:
        """Ids of collections whose destruction is past due + grace (at most ``limit``)."""
        return list(
            connection.execute(
                select(collections.c.id)
                .where(self._overdue(now))
                .order_by(collections.c.due_at)
                .limit(limit)
            ).scalars()
        )

    def _overdue(self, now: datetime) -> Any:
        # Late to be destroyed, or (for a held purpose) late to be separated.
        late = now - self._grace
        return or_(
            and_(collections.c.state.in_(LIVE_STATES), collections.c.due_at <= late),
            self._hold_ended(late),
        )

    # -- the run ------------------------------------------------------------------

    def run(
        self, *, now: datetime, dry_run: bool = False, progress: Progress | None = None
    ) -> SweepReport:
        """Sweep once as of ``now``; a dry run changes nothing and reports what would."""
        report = SweepReport(now=now, dry_run=dry_run)
        with self.database.connect() as connection:
            to_separate = self._count(connection, self._due_live(now, held=True))
            to_destroy = self._count(connection, self._due_live(now, held=False))
            hold_ended = self._count(connection, self._hold_ended(now))
            report.overdue = self._count(connection, self._overdue(now))
            report.overdue_ids = self.overdue(connection, now)
            connection.rollback()
        report.expired = to_separate + to_destroy
        if dry_run:
            report.separated = to_separate
            report.destroyed = to_destroy + hold_ended
            return report
        if report.overdue:
            # Ids only; the service was likely down. They are destroyed below.
            log.warning(
                "%d collection(s) overdue for destruction: %s",
                report.overdue,
                ", ".join(report.overdue_ids),
            )
        self._purge_separated()
        batch = _Batch()
        report.separated = self._separate(now, to_separate, progress)
        destroyed = self._destroy_separated(now, batch, hold_ended, progress)
        self._purge_separated()
        destroyed += self._destroy_live(now, batch, to_destroy, progress)
        report.destroyed = destroyed
        report.batch_id = batch.id
        self.checkpoint()
        return report

    def _claim(
        self, connection: Connection, condition: Any, columns: Sequence[Any]
    ) -> list[Row[Any]]:
        query = select(*columns).where(condition).limit(self.chunk_size)
        if self._postgres:
            query = query.with_for_update(skip_locked=True, of=collections)
        return list(connection.execute(query))

    # -- separation ---------------------------------------------------------------

    def _separate(self, now: datetime, total: int, progress: Progress | None) -> int:
        """Move due collections under a legal hold to the separated store, still sealed.

        On SQLite the two stores are two files, and a WAL-mode transaction over both is
        not atomic across them; so the copy commits first (idempotently), then the
        main store lets go in a transaction of its own. A crash between the two leaves
        a harmless copy that the next sweep redoes.
        """
        if not self._held:
            return 0
        moved = 0
        columns = (collections.c.id, collections.c.purpose, collections.c.due_at)
        condition = self._due_live(now, held=True)
        while True:
            with self.database.begin() as connection:
                rows = self._claim(connection, condition, columns)
                if not rows:
                    break
                ids = [row.id for row in rows]
                self._copy_to_separated(connection, ids)
                if self._postgres:
                    moved += self._let_go(connection, rows, now)
            if not self._postgres:
                with self.database.begin() as connection:
                    moved += self._let_go(connection, rows, now)
            if progress:
                progress("separate", moved, total)
        return moved

    @staticmethod
    def _copy_to_separated(connection: Connection, ids: list[str]) -> None:
        connection.execute(delete(separated_items).where(separated_items.c.collection_id.in_(ids)))
        connection.execute(delete(separated_keys).where(separated_keys.c.collection_id.in_(ids)))
        connection.execute(
            insert(separated_keys).from_select(
                ["collection_id", "key_id", "wrapped"],
                select(data_keys.c.collection_id, data_keys.c.key_id, data_keys.c.wrapped).where(
                    data_keys.c.collection_id.in_(ids)
                ),
            )
        )
        connection.execute(
            insert(separated_items).from_select(
                ["collection_id", "name", "sealed"],
                select(items.c.collection_id, items.c.name, items.c.sealed).where(
                    items.c.collection_id.in_(ids)
                ),
            )
        )

    def _let_go(self, connection: Connection, rows: list[Row[Any]], now: datetime) -> int:
        """Delete the main copy of collections now in the separated store."""
        still = set(
            connection.execute(
                select(collections.c.id).where(
                    collections.c.id.in_([row.id for row in rows]),
                    collections.c.state.in_(LIVE_STATES),
                )
            ).scalars()
        )
        rows = [row for row in rows if row.id in still]
        if not rows:
            return 0
        ids = [row.id for row in rows]
        names = _item_names(connection, items, ids)
        connection.execute(delete(data_keys).where(data_keys.c.collection_id.in_(ids)))
        connection.execute(delete(items).where(items.c.collection_id.in_(ids)))
        holds = {}
        for row in rows:
            hold = self.policy.purposes[row.purpose].legal_hold
            assert hold is not None
            holds[row.id] = hold.retention_period.after(row.due_at)
        connection.execute(
            _SET_HOLD,
            [{"b_id": row.id, "b_hold_until": holds[row.id], "b_now": now} for row in rows],
        )
        connection.execute(
            _INSERT_EVENTS,
            [
                event_values(
                    now=now,
                    actor=self.name,
                    actor_kind="system",
                    action="separate",
                    collection_id=row.id,
                    purpose=row.purpose,
                    items=names.get(row.id, []),
                    reason=f"legal hold until {holds[row.id].date().isoformat()}",
                )
                for row in rows
            ],
        )
        return len(rows)

    def _purge_separated(self) -> None:
        """Delete separated rows of destroyed collections (a sweep that died midway).

        Driven by the separated store, which is small: each of its collections is
        looked up by key, rather than scanning every destroyed collection.
        """
        destroyed = collections.c.state == CollectionState.DESTROYED.value
        with self.database.begin() as connection:
            orphans: set[str] = set()
            for table in (separated_keys, separated_items):
                orphans.update(
                    connection.execute(
                        select(table.c.collection_id)
                        .select_from(
                            table.join(collections, collections.c.id == table.c.collection_id)
                        )
                        .where(destroyed)
                        .distinct()
                    ).scalars()
                )
            if orphans:
                _delete_separated(connection, sorted(orphans))

    # -- destruction ----------------------------------------------------------------

    def _destroy_separated(
        self, now: datetime, batch: _Batch, total: int, progress: Progress | None
    ) -> int:
        """Destroy separated collections whose legal hold has ended."""
        done = 0
        while True:
            with self.database.begin() as connection:
                rows = self._claim(connection, self._hold_ended(now), (collections.c.id,))
                if not rows:
                    break
                done += self._certify(
                    connection, [row.id for row in rows], now, batch, separated=True
                )
            # The separated copy goes in a second transaction: on SQLite it is another
            # file. A crash in between is finished by _purge_separated.
            with self.database.begin() as connection:
                _delete_separated(connection, [row.id for row in rows])
            if progress:
                progress("destroy held", done, total)
        return done

    def _destroy_live(
        self, now: datetime, batch: _Batch, total: int, progress: Progress | None
    ) -> int:
        """Destroy due collections, a chunk per transaction, in the due index's order."""
        done = 0
        condition = self._due_live(now, held=False)
        while True:
            with self.database.begin() as connection:
                rows = self._claim(connection, condition, (collections.c.id,))
                if not rows:
                    break
                ids = [row.id for row in rows]
                done += self._certify(connection, ids, now, batch, separated=False)
                # The key first: without it the ciphertexts are noise, wherever copies are.
                connection.execute(delete(data_keys).where(data_keys.c.collection_id.in_(ids)))
                connection.execute(delete(items).where(items.c.collection_id.in_(ids)))
            if progress:
                progress("destroy", done, total)
        return done

    def _certify(
        self,
        connection: Connection,
        ids: list[str],
        now: datetime,
        batch: _Batch,
        *,
        separated: bool,
    ) -> int:
        """Mark ``ids`` destroyed, each with a certificate and an audit event.

        Set-based: two INSERT … SELECT and one UPDATE per chunk, whatever its size, so
        that certifying costs the database's work and little Python.
        """
        if batch.id is None:
            batch.id = str(uuid.uuid4())
            connection.execute(
                insert(destruction_batches).values(
                    id=batch.id, created_at=now, created_by=self.name, destroyed=0
                )
            )
        item_table = separated_items if separated else items
        due = collections.c.hold_until if separated else collections.c.due_at
        late = literal(now - self._grace, UtcDateTime)
        reason: Any = (
            literal("hold_ended")
            if separated
            else case(
                (
                    and_(
                        collections.c.accomplished_at.isnot(None),
                        collections.c.accomplished_at <= collections.c.due_at,
                    ),
                    "accomplished",
                ),
                (
                    and_(
                        collections.c.consented.is_(False),
                        collections.c.due_at < collections.c.expires_at,
                    ),
                    "withdrawn",
                ),
                else_="expired",
            )
        )
        connection.execute(
            insert(destruction_certificates).from_select(
                [
                    "id",
                    "batch_id",
                    "collection_id",
                    "subject_id",
                    "purpose",
                    "items",
                    "method",
                    "reason",
                    "due_at",
                    "destroyed_at",
                    "overdue",
                ],
                select(
                    self._new_id(batch),
                    literal(batch.id),
                    collections.c.id,
                    collections.c.subject_id,
                    collections.c.purpose,
                    self._names_json(item_table),
                    literal(METHOD),
                    reason,
                    due,
                    literal(now, UtcDateTime),
                    case((due <= late, True), else_=False),
                ).where(collections.c.id.in_(ids)),
            )
        )
        certificate = destruction_certificates.c
        connection.execute(
            insert(audit_events).from_select(
                [
                    "occurred_at",
                    "actor",
                    "actor_kind",
                    "subject_id",
                    "collection_id",
                    "action",
                    "purpose",
                    "items",
                    "reason",
                    "outcome",
                    "code",
                ],
                select(
                    literal(now, UtcDateTime),
                    literal(self.name),
                    literal("system"),
                    certificate.subject_id,
                    certificate.collection_id,
                    literal("destroy"),
                    certificate.purpose,
                    certificate["items"],
                    certificate.reason + literal("; certificate ") + certificate.id,
                    literal("allowed"),
                    case((certificate.overdue.is_(True), "OVERDUE"), else_=None),
                ).where(certificate.collection_id.in_(ids)),
            )
        )
        connection.execute(
            update(collections)
            .where(collections.c.id.in_(ids))
            .values(state=CollectionState.DESTROYED.value, updated_at=now)
        )
        batch.destroyed += len(ids)
        connection.execute(
            update(destruction_batches)
            .where(destruction_batches.c.id == batch.id)
            .values(destroyed=batch.destroyed)
        )
        return len(ids)

    def _new_id(self, batch: _Batch) -> Any:
        """Certificate ids made by the database: the batch's prefix and a sequence number.

        Ordered ids append to the certificates' index instead of landing at random.
        """
        assert batch.id is not None
        number = literal(batch.destroyed) + func.row_number().over(order_by=collections.c.id)
        if self._postgres:
            padded = func.lpad(cast(number, Text), 12, "0")
        else:
            padded = func.printf("%012d", number)
        return literal(batch.id[:23] + "-") + padded

    def _names_json(self, item_table: Table) -> Any:
        """The sorted item names of the collection, as a JSON list."""
        names: Any
        if self._postgres:
            names = func.coalesce(
                cast(func.json_agg(aggregate_order_by(item_table.c.name, item_table.c.name)), Text),
                "[]",
            )
        else:
            # Items are clustered by (collection, name): the scan yields names in order.
            names = func.json_group_array(item_table.c.name)
        return select(names).where(item_table.c.collection_id == collections.c.id).scalar_subquery()

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


def _item_names(connection: Connection, table: Any, ids: list[str]) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for collection_id, name in connection.execute(
        select(table.c.collection_id, table.c.name).where(table.c.collection_id.in_(ids))
    ):
        names.setdefault(collection_id, []).append(name)
    for value in names.values():
        value.sort()
    return names


def _delete_separated(connection: Connection, ids: list[str]) -> None:
    connection.execute(delete(separated_keys).where(separated_keys.c.collection_id.in_(ids)))
    connection.execute(delete(separated_items).where(separated_items.c.collection_id.in_(ids)))
