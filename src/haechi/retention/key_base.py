"""What every step of the key job shares: its database, provider, window and chunk reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine as SqlEngine

from haechi.crypto.keys import KeyProvider
from haechi.policy.durations import Period
from haechi.retention.key_models import MasterWrapped, StepHook
from haechi.storage.prepared import PreparedStatement

__all__ = ["KeyJobBase"]


class KeyJobBase:
    """The state of the key job over one database and key provider, and its small helpers."""

    def __init__(
        self,
        database: SqlEngine,
        *,
        keys: KeyProvider,
        window: Period,
        chunk_size: int = 1000,
        name: str = "keys",
        between: StepHook | None = None,
        master_wrapped: Sequence[MasterWrapped] = (),
    ):
        self.database = database
        self.keys = keys
        self.master_wrapped = list(master_wrapped)
        self.window = window
        self.chunk_size = chunk_size
        self.name = name
        self._between = between
        self._postgres = database.dialect.name == "postgresql"
        self._prepared: dict[str, PreparedStatement] = {}

    def destroy_after(self, row: Any) -> datetime:
        """When an epoch key may be destroyed once it wraps nothing."""
        return self.window.after(row.shred_at if row.shred_at is not None else row.period_end)

    def _step(self, name: str) -> None:
        if self._between is not None:
            self._between(name)

    def _locked(self, query: Any, table: Any) -> Any:
        # Servers running at once take different chunks; correctness does not depend
        # on it (every update names the old key), only speed.
        return query.with_for_update(of=table, skip_locked=True) if self._postgres else query

    def _read(self, query: Any) -> Sequence[Any]:
        """A chunk to re-wrap, read without a write lock (a deferred SQLite transaction)."""
        with self.database.connect() as connection:
            rows = connection.execution_options(sqlite_deferred=True).execute(query).all()
            connection.rollback()
        return rows
