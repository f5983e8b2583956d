"""Key epochs: which epoch key wraps a data key, by the collection's destruction deadline.

Time is cut into periods of :data:`EPOCH_DAYS` day(s), from midnight UTC. A
collection's data key is wrapped by the epoch key of the period that holds its
destruction deadline (``due_at``; for separated data, the end of its legal hold), so
the keys of collections that die together sit under one epoch key, which can be
destroyed once they are all gone (docs/keys.md explains the choice of a day, with
measurements).

The main store and the separated store have epoch keys of their own (``store``), so
the keys of live data never open held data, nor the reverse.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

__all__ = [
    "EPOCH_DAYS",
    "EPOCH_PREFIX",
    "Store",
    "data_key_context",
    "epoch_day",
    "is_epoch_id",
    "new_epoch_id",
    "period_of",
]

EPOCH_DAYS = 1
EPOCH_PREFIX = "ep-"
_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)  # periods start at midnight UTC


class Store(StrEnum):
    """Which key hierarchy: the main store, or the separated store (legal holds)."""

    MAIN = "main"
    SEPARATED = "separated"


def period_of(moment: datetime, *, days: int = EPOCH_DAYS) -> tuple[datetime, datetime]:
    """The period [start, end) that holds ``moment``."""
    length = timedelta(days=days)
    index = (moment.astimezone(UTC) - _ORIGIN) // length
    start = _ORIGIN + index * length
    return start, start + length


def new_epoch_id(store: Store, start: datetime) -> str:
    """A fresh id for an epoch key of ``store`` starting at ``start`` (a safe file name)."""
    letter = "m" if store is Store.MAIN else "s"
    return f"{EPOCH_PREFIX}{letter}{start:%Y%m%d}-{secrets.token_hex(5)}"


def epoch_day(epoch_id: str) -> datetime | None:
    """The first day of the period an epoch id was made for (see :func:`new_epoch_id`)."""
    try:
        return datetime.strptime(epoch_id[len(EPOCH_PREFIX) + 1 :][:8], "%Y%m%d").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


def is_epoch_id(key_id: str) -> bool:
    """Whether a data key's ``key_id`` names an epoch key (else: the master key wrapped it)."""
    return key_id.startswith(EPOCH_PREFIX)


def data_key_context(store: Store, collection_id: str) -> bytes:
    """Associated data of a data key wrapped by an epoch key: its store and its collection."""
    return f"haechi-dek|{store.value}|{collection_id}".encode()
