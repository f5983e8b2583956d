"""The key job: rotate epochs whose data keys were shredded, destroy expired epoch keys.

Why (docs/keys.md): a copy of the database taken before a destruction still holds
the shredded data key, wrapped by its epoch key. Destroying that epoch key in the key
provider makes the copy's key unreadable; the live data keys it also wrapped must
first move to a new epoch key, or they would be lost with it. One run:

1. finishes destructions a crash interrupted (marked in the database, still held by
   the provider), and adopts epochs that data keys name but a torn commit lost;
2. seals again under the current master key what an older one wraps (key-directory
   files, request and complaint keys), after a master-key rotation;
3. re-wraps data keys from before epochs (wrapped by the master key) under epochs;
4. retires every current epoch marked shredded (it wraps no new key from then on)
   and moves the data keys of retired epochs to their period's current epoch key,
   a chunk at a time, no lock held while keys are re-wrapped — the item ciphertexts
   are never touched;
5. destroys each epoch key (and retired master key) that wraps nothing any more once
   the backup window has passed since its first shredding (or, never shredded, since
   its period ended), with a key-destruction record in the audit log.

Crash-safe: a data key is updated only by a conditional UPDATE naming its old epoch,
after the new epoch key is durably stored and its row committed, and in a transaction
that checks under a share lock that the new key is not destroyed; the old key is
destroyed only when no row names it, checked under its row lock. A kill at any
point leaves every data key under an epoch key that exists, and the next run goes on.
Once across servers: a PostgreSQL advisory lock, or on SQLite a claim row with a lease.

The steps live beside this module: ``key_rotation`` (1, 3, 4: adoption and re-wraps),
``key_master`` (2), ``key_destruction`` (1, 5), ``key_claim`` (once across servers);
the reports and status rows in ``key_models``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select, update

from haechi.crypto.epochs import EPOCH_PREFIX, Store
from haechi.retention.key_claim import claimed
from haechi.retention.key_destruction import Destruction
from haechi.retention.key_master import MasterKeys
from haechi.retention.key_models import (
    MASTER_STORE,
    EpochInfo,
    KeyReport,
    KeyStatus,
    MasterWrapped,
    Progress,
    StepHook,
    backup_window,
    counts_by_key,
)
from haechi.retention.key_rotation import Rotation
from haechi.storage.key_tables import key_epochs
from haechi.storage.keyring import key_table

__all__ = [
    "MASTER_STORE",
    "EpochInfo",
    "KeyJob",
    "KeyReport",
    "KeyStatus",
    "MasterWrapped",
    "Progress",
    "StepHook",
    "backup_window",
]


class KeyJob(MasterKeys, Rotation, Destruction):
    """Runs the key job over one database and key provider."""

    def status(self) -> KeyStatus:
        """The epochs still held, what each protects, and when each is due to go."""
        with self.database.connect() as connection:
            data = counts_by_key(connection, [key_table(store) for store in Store])
            legacy = sum(n for key_id, n in data.items() if not key_id.startswith(EPOCH_PREFIX))
            counts = counts_by_key(connection, [spec.table for spec in self.master_wrapped], data)
            rows = connection.execute(
                select(key_epochs)
                .where(key_epochs.c.destroyed_at.is_(None))
                .order_by(key_epochs.c.store, key_epochs.c.period_start, key_epochs.c.created_at)
            ).all()
            destroyed = connection.execute(
                select(func.count()).where(key_epochs.c.destroyed_at.is_not(None))
            ).scalar_one()
        epochs = [
            EpochInfo(
                id=row.id,
                store=row.store,
                period_start=row.period_start,
                period_end=row.period_end,
                created_at=row.created_at,
                retired_at=row.retired_at,
                shred_at=row.shred_at,
                destroyed_at=row.destroyed_at,
                data_keys=counts.pop(row.id, 0),
                destroy_after=self.destroy_after(row),
                held=(
                    row.id in self.keys.masters_held()
                    if row.store == MASTER_STORE
                    else self.keys.has_epoch(row.id)
                ),
            )
            for row in rows
        ]
        return KeyStatus(
            provider=self.keys.description,
            master_key_id=self.keys.key_id,
            backup_window=str(self.window) or "P0D",
            epochs=epochs,
            legacy_data_keys=legacy,
            destroyed_epochs=int(destroyed),
        )

    def run(self, *, now: datetime, progress: Progress | None = None) -> KeyReport:
        """One run of the job as of ``now`` (see the module's docstring)."""
        report = KeyReport()
        with claimed(self.database) as got:
            if not got:
                report.skipped = True
                return report
            self._finish_destructions(now)
            self._adopt_orphans(now)
            self._record_retired_masters(now)
            report.master_rewrapped = self._rewrap_master(progress)
            report.upgraded = self._upgrade(now, progress)
            report.rotated_epochs = self._retire_shredded(now)
            report.moved = self._move_retired(now, progress)
            report.destroyed = self._destroy_due(now)
        return report

    def rotate(self, *, now: datetime, epoch_ids: list[str] | None = None) -> list[str]:
        """Mark current epochs (all, or ``epoch_ids``) for rotation now; the next run moves them.

        For a key thought exposed: the old epoch keys go a backup window from now.
        """
        with self.database.begin() as connection:
            condition = and_(key_epochs.c.retired_at.is_(None), key_epochs.c.destroyed_at.is_(None))
            if epoch_ids is not None:
                condition = and_(condition, key_epochs.c.id.in_(epoch_ids))
            marked = list(connection.execute(select(key_epochs.c.id).where(condition)).scalars())
            connection.execute(
                update(key_epochs)
                .where(condition, key_epochs.c.shred_at.is_(None))
                .values(shred_at=now)
            )
        return marked
