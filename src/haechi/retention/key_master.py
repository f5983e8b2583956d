"""The key job after a master-key rotation: what an older master key wraps is sealed again.

The provider reseals its own files (the key directory); the tables named by
``MasterWrapped`` (request and complaint keys) are re-wrapped here a chunk at a time.
Each retired master key the provider still holds gets a ``key_epochs`` row, so that
the destruction step destroys it once the backup window has passed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from haechi.retention.key_base import KeyJobBase
from haechi.retention.key_models import MASTER_STORE, Progress
from haechi.storage.key_tables import key_epochs

__all__ = ["MasterKeys"]


class MasterKeys(KeyJobBase):
    """Record retired master keys and move what they wrap under the current one."""

    def _record_retired_masters(self, now: datetime) -> None:
        """Give each retired master key held a row, so that it is destroyed after the window."""
        retired = self.keys.masters_held()[1:]
        if not retired:
            return
        with self.database.begin() as connection:
            known = set(
                connection.execute(
                    select(key_epochs.c.id).where(key_epochs.c.id.in_(retired))
                ).scalars()
            )
            for master_id in retired:
                if master_id in known:
                    continue
                connection.execute(
                    insert(key_epochs).values(
                        id=master_id,
                        store=MASTER_STORE,
                        period_start=now,
                        period_end=now,
                        created_at=now,
                        retired_at=now,
                        shred_at=now,
                    )
                )

    def _rewrap_master(self, progress: Progress | None) -> int:
        """Seal under the current master key what an older one still wraps."""
        done = self.keys.reseal()
        current = self.keys.key_id
        for spec in self.master_wrapped:
            table = spec.table
            key = [table.c[name] for name in spec.key]
            while True:
                with self.database.begin() as connection:
                    rows = connection.execute(
                        self._locked(
                            select(*key, table.c.key_id, table.c.wrapped)
                            .where(table.c.key_id != current)
                            .limit(self.chunk_size),
                            table,
                        )
                    ).all()
                    if not rows:
                        break
                    self._step("master")
                    for row in rows:
                        data_key = self.keys.unwrap(bytes(row.wrapped), context=spec.context(row))
                        connection.execute(
                            update(table)
                            .where(*(column == getattr(row, column.name) for column in key))
                            .where(table.c.key_id == row.key_id)
                            .values(
                                key_id=current,
                                wrapped=self.keys.wrap(data_key, context=spec.context(row)),
                            )
                        )
                done += len(rows)
                if progress:
                    progress("master key", done, done)
        return done
