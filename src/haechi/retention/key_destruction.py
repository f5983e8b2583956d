"""The destruction step of the key job: epoch keys and retired master keys that wrap nothing.

A key goes once the backup window has passed since its first shredding (or, never
shredded, since its period ended). It is marked destroyed, with a key-destruction
record in the audit log, only when no row names it, checked under its row lock; the
provider erases it after that commit, and a destruction a crash interrupted is
finished first by the next run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update

from haechi.audit.events import record_event
from haechi.crypto.epochs import Store
from haechi.retention.key_base import KeyJobBase
from haechi.retention.key_models import MASTER_STORE
from haechi.storage.key_tables import key_epochs
from haechi.storage.keyring import key_table

__all__ = ["Destruction"]


class Destruction(KeyJobBase):
    """Finish interrupted destructions and destroy the keys that are due."""

    def _finish_destructions(self, now: datetime) -> None:
        """Destroy in the provider what the database records as destroyed, not yet erased."""
        with self.database.connect() as connection:
            rows = connection.execute(
                select(key_epochs.c.id, key_epochs.c.store).where(
                    key_epochs.c.destroyed_at.is_not(None), key_epochs.c.erased_at.is_(None)
                )
            ).all()
        for row in rows:
            self._erase(row.id, master=row.store == MASTER_STORE, now=now)

    def _erase(self, key_id: str, *, master: bool, now: datetime) -> None:
        """Destroy the key in the provider, then record that it is gone."""
        if master:
            if key_id in self.keys.masters_held():
                self.keys.destroy_master(key_id)
        else:
            self.keys.destroy_epoch(key_id)
        with self.database.begin() as connection:
            connection.execute(
                update(key_epochs).where(key_epochs.c.id == key_id).values(erased_at=now)
            )

    def _destroy_due(self, now: datetime) -> list[str]:
        """Destroy every epoch key that wraps nothing and whose backup window has passed."""
        with self.database.connect() as connection:
            candidates = connection.execute(
                select(key_epochs).where(
                    key_epochs.c.destroyed_at.is_(None),
                    or_(
                        key_epochs.c.retired_at.is_not(None),
                        key_epochs.c.shred_at.is_not(None),
                        key_epochs.c.period_end <= now,
                    ),
                )
            ).all()
        destroyed: list[str] = []
        for candidate in candidates:
            if self.destroy_after(candidate) > now:
                continue
            if self._destroy_one(candidate.id, now):
                destroyed.append(candidate.id)
        return destroyed

    def _destroy_one(self, epoch_id: str, now: datetime) -> bool:
        with self.database.begin() as connection:
            row = connection.execute(
                select(key_epochs).where(key_epochs.c.id == epoch_id).with_for_update()
            ).first()
            if row is None or row.destroyed_at is not None:
                return False
            master = row.store == MASTER_STORE
            tables = (
                [key_table(store) for store in Store] + [spec.table for spec in self.master_wrapped]
                if master
                else [key_table(Store(row.store))]
            )
            wraps = sum(
                connection.execute(
                    select(func.count()).where(table.c.key_id == epoch_id)
                ).scalar_one()
                for table in tables
            )
            if master:
                wraps += self.keys.stored_under(epoch_id)
            if wraps:
                return False  # still wraps live data keys: the next run moves them first
            connection.execute(
                update(key_epochs)
                .where(key_epochs.c.id == epoch_id)
                .values(destroyed_at=now, retired_at=func.coalesce(key_epochs.c.retired_at, now))
            )
            record_event(
                connection,
                now=now,
                actor=self.name,
                actor_kind="system",
                action="key_destroyed",
                reason=_destruction_record(
                    row, window=str(self.window) or "P0D", how=self.keys.destroy_method
                ),
            )
            self._step("recorded")
        # After the commit: a crash here leaves the key marked destroyed, and the next
        # run's first step destroys it in the provider.
        self._erase(epoch_id, master=master, now=now)
        return True


def _destruction_record(row: Any, *, window: str, how: str) -> str:
    """The key-destruction record: which key, what it covered, why now, how (no secret)."""
    shredded = row.shred_at.isoformat() if row.shred_at is not None else "never"
    kind = "master key" if row.store == MASTER_STORE else "epoch key"
    return (
        f"{kind} {row.id} destroyed in {how}; store {row.store}; deadlines "
        f"{row.period_start.isoformat()} to {row.period_end.isoformat()}; first shredding "
        f"{shredded}; backup window {window}; wrapped no live data key"
    )
