"""The canonical encoding of an audit event: the bytes its Merkle leaf hashes.

A compact JSON array (RFC 8259, UTF-8, no insignificant whitespace) of a version tag
and the fields in a fixed order; the timestamp in UTC as
``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``. Both databases give back the same values, so
an event encodes to the same bytes on SQLite and PostgreSQL, and after an export and
import. Rows may come from SQLAlchemy (an aware datetime) or straight from the SQLite
driver (the stored text, always ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["ENCODING_VERSION", "EVENT_FIELDS", "encode_event"]

ENCODING_VERSION = 1
EVENT_FIELDS = (
    "id",
    "occurred_at",
    "actor",
    "actor_kind",
    "source_ip",
    "subject_id",
    "collection_id",
    "action",
    "purpose",
    "items",
    "reason",
    "outcome",
    "code",
)
_dumps = orjson.dumps


def _timestamp(value: datetime | str) -> str:
    if isinstance(value, str):  # SQLite's stored form, naive UTC
        return value.replace(" ", "T", 1) + "+00:00"
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def encode_event(row: Sequence[Any]) -> bytes:
    """Encode an event row given in :data:`EVENT_FIELDS` order."""
    values = list(row)
    values[1] = _timestamp(values[1])
    return _dumps([ENCODING_VERSION, *values])
