"""What the key job is given and what it answers: its hooks, reports and status rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select

from haechi.policy.durations import Period, parse_period

__all__ = [
    "MASTER_STORE",
    "EpochInfo",
    "KeyReport",
    "KeyStatus",
    "MasterWrapped",
    "Progress",
    "StepHook",
    "backup_window",
    "counts_by_key",
]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(step, done, total)`` after each chunk."""

StepHook = Callable[[str], None]
"""Called between the steps of a chunk (tests stop a run there)."""

MASTER_STORE = "master"
"""``key_epochs.store`` of a retired master key awaiting its destruction."""


@dataclass(frozen=True)
class MasterWrapped:
    """A table of keys wrapped by the master key: its key columns and associated data."""

    table: Table
    key: tuple[str, ...]
    context: Callable[[Any], bytes]


@dataclass
class KeyReport:
    """What one run of the key job did."""

    master_rewrapped: int = 0
    upgraded: int = 0
    rotated_epochs: list[str] = field(default_factory=list)
    moved: int = 0
    destroyed: list[str] = field(default_factory=list)
    skipped: bool = False  # another server holds the job


@dataclass(frozen=True)
class EpochInfo:
    """One epoch key as ``haechi keys status`` shows it: dates and counts, no secret."""

    id: str
    store: str
    period_start: datetime
    period_end: datetime
    created_at: datetime
    retired_at: datetime | None
    shred_at: datetime | None
    destroyed_at: datetime | None
    data_keys: int
    destroy_after: datetime | None
    held: bool


@dataclass(frozen=True)
class KeyStatus:
    """The epochs not yet destroyed, the data keys still under the master key, and more."""

    provider: str
    master_key_id: str
    backup_window: str
    epochs: list[EpochInfo]
    legacy_data_keys: int
    destroyed_epochs: int


def backup_window(text_value: str) -> Period:
    """The ``keys.backup_window`` setting as a calendar period (zero allowed)."""
    return parse_period(text_value, allow_zero=True)


def counts_by_key(
    connection: Connection, tables: list[Table], into: dict[str, int] | None = None
) -> dict[str, int]:
    """Rows per ``key_id`` over ``tables`` (added to ``into``)."""
    counts = dict(into or {})
    for table in tables:
        for key_id, count in connection.execute(
            select(table.c.key_id, func.count()).group_by(table.c.key_id)
        ):
            counts[key_id] = counts.get(key_id, 0) + int(count)
    return counts
