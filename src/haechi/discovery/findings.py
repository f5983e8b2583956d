"""What a scan finds: where, what type, how sure, and the value masked.

A :class:`Finding` never holds the value it found, only :attr:`Finding.masked`,
so findings can be printed, logged and written to reports.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

__all__ = ["Finding", "Level", "Location", "level_of"]

Level = Literal["high", "medium", "low"]


def level_of(confidence: float) -> Level:
    """Name the band of a confidence: high ≥ 0.8, medium ≥ 0.5, low below."""
    if confidence >= 0.8:
        return "high"
    if confidence >= 0.5:
        return "medium"
    return "low"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value was found.

    Files give ``source`` (the path) with ``line`` and ``column`` (1-based, in
    characters); spreadsheets add ``sheet`` and ``cell``; databases give ``source``
    (the URL without its password), ``table``, ``field`` and ``row_key``
    (``id=42``, or ``row=7`` for a table without a primary key).
    """

    source: str
    line: int | None = None
    column: int | None = None
    sheet: str | None = None
    cell: str | None = None
    table: str | None = None
    field: str | None = None
    row_key: str | None = None
    offset: int | None = None

    @property
    def resource(self) -> str:
        """The unit a summary counts by: the file, or ``table.column``."""
        if self.table is not None:
            return f"{self.table}.{self.field}"
        return self.source

    def __str__(self) -> str:
        if self.table is not None:
            return f"{self.table}.{self.field}[{self.row_key}]"
        if self.sheet is not None:
            return f"{self.source}[{self.sheet}]!{self.cell}"
        if self.offset is not None:
            return f"{self.source}@{self.offset}"
        return f"{self.source}:{self.line}:{self.column}"

    def to_dict(self) -> dict[str, Any]:
        """Return the set fields as a JSON-ready mapping."""
        return {
            item.name: value
            for item in fields(self)
            if (value := getattr(self, item.name)) is not None
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One identifier found: its type, location, confidence and masked value.

    ``declared`` tells whether the policy declares items of this type; an
    undeclared finding is personal information held without a stated purpose.
    """

    type: str
    location: Location
    confidence: float
    masked: str
    declared: bool

    @property
    def level(self) -> Level:
        """The confidence band (see :func:`level_of`)."""
        return level_of(self.confidence)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready mapping (the value appears masked only)."""
        return {
            "type": self.type,
            "location": str(self.location),
            "where": self.location.to_dict(),
            "confidence": round(self.confidence, 2),
            "level": self.level,
            "masked": self.masked,
            "declared": self.declared,
        }
