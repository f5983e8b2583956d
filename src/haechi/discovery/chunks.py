r"""Chunks: a buffer of UTF-8 bytes plus the knowledge to turn offsets into locations.

Every source (text stream, spreadsheet, database table) hands the scanner chunks.
A :class:`TextChunk` is a run of whole lines (or a piece of one very long line)
from a file; a :class:`RecordChunk` holds one record per line (a spreadsheet cell
or a database value), each prefixed by its column name so recognizers that need
context words can see it (``account_no\\t1234567890``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from haechi.discovery.findings import Location

__all__ = ["BinaryChunk", "Chunk", "Record", "RecordChunk", "TextChunk", "record_chunk"]


class Chunk(Protocol):
    """A scannable buffer that knows where its bytes came from."""

    @property
    def data(self) -> bytes:
        """The UTF-8 bytes to scan."""
        ...

    def locate(self, starts: Sequence[int]) -> list[Location | None]:
        """Return a location for each (ascending) offset; ``None`` drops the hit."""
        ...


@dataclass(frozen=True, slots=True)
class TextChunk:
    """Whole lines of a text file starting at ``first_line``.

    ``first_column`` is the number of characters of the first line that an earlier
    chunk already held (non-zero only after a very long line was cut).
    """

    data: bytes
    source: str
    first_line: int = 1
    first_column: int = 0

    def locate(self, starts: Sequence[int]) -> list[Location | None]:
        """Count newlines and characters up to each offset."""
        data = self.data
        out: list[Location | None] = []
        line = self.first_line
        previous = 0
        for start in starts:
            line += data.count(b"\n", previous, start)
            previous = start
            line_start = data.rfind(b"\n", 0, start) + 1
            column = len(data[line_start:start].decode("utf-8", "replace")) + 1
            if line_start == 0:
                column += self.first_column
            out.append(Location(self.source, line=line, column=column))
        return out


@dataclass(frozen=True, slots=True)
class BinaryChunk:
    """Bytes of a binary file from ``first_offset``, control bytes turned into newlines.

    The turning is byte for byte, so an offset in :attr:`data` plus ``first_offset``
    is the offset of the value in the file.
    """

    data: bytes
    source: str
    first_offset: int = 0

    def locate(self, starts: Sequence[int]) -> list[Location | None]:
        """The byte offset of each hit in the file."""
        return [Location(self.source, offset=self.first_offset + start) for start in starts]


@dataclass(frozen=True, slots=True)
class Record:
    """Where one record line of a :class:`RecordChunk` came from."""

    location: Location
    prefix: int  # bytes of "column name\t" before the value


@dataclass(slots=True)
class RecordChunk:
    """One record per line; a hit inside a line's column-name prefix is dropped."""

    data: bytes
    records: list[Record]
    line_starts: list[int] = field(default_factory=list)

    def locate(self, starts: Sequence[int]) -> list[Location | None]:
        """Map each offset to its record, dropping hits in a prefix."""
        out: list[Location | None] = []
        for start in starts:
            index = bisect_right(self.line_starts, start) - 1
            record = self.records[index]
            if start - self.line_starts[index] < record.prefix:
                out.append(None)
            else:
                out.append(record.location)
        return out


def record_chunk(items: Sequence[tuple[str, str, Location]]) -> RecordChunk:
    """Build a chunk from ``(column name, value, location)`` triples.

    Newlines inside a value become spaces so each value stays on its own line.
    """
    parts: list[bytes] = []
    records: list[Record] = []
    line_starts: list[int] = []
    offset = 0
    for hint, value, location in items:
        prefix = (hint[:40].replace("\t", " ").replace("\n", " ") + "\t").encode("utf-8")
        body = value.replace("\r", " ").replace("\n", " ").encode("utf-8", "replace")
        line_starts.append(offset)
        records.append(Record(location, len(prefix)))
        parts.append(prefix + body + b"\n")
        offset += len(prefix) + len(body) + 1
    return RecordChunk(b"".join(parts), records, line_starts)
