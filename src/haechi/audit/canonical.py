"""The canonical encoding of an audit event: the bytes its Merkle leaf hashes.

A JSON array in a fixed field order, compact, UTF-8, timestamps in UTC with
microseconds. Both databases give back the same values, so the same event encodes to
the same bytes on SQLite and PostgreSQL, and after an export and import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

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
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_event(row: Sequence[Any]) -> bytes:
    """Encode an event row given in :data:`EVENT_FIELDS` order."""
    values = list(row)
    values[1] = _timestamp(values[1])
    return _dumps([ENCODING_VERSION, *values]).encode("utf-8")
