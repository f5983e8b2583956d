"""File sources: text (CSV, JSON, JSONL, logs…), gzip, and .xlsx workbooks.

Everything is streamed: text is read in blocks of :data:`BLOCK_SIZE` bytes and cut
into chunks of whole lines, so memory stays flat whatever the file's size. A line
longer than :data:`MAX_LINE` is cut at a delimiter near that length (a value split
exactly there could be missed; such lines are minified data, not prose).

Encodings: UTF-8 (with or without BOM) is scanned as is; UTF-16 (by BOM) and
CP949/EUC-KR (when the first block is not UTF-8 but is CP949) are transcoded to
UTF-8 on the fly. A file with NUL bytes and no UTF-16 BOM is binary and skipped,
unless the scan asks for binaries: then the text inside it is scanned (a database
file, its WAL, a core dump keep values as UTF-8 runs between binary bytes), each
finding located by its byte offset.
"""

from __future__ import annotations

import codecs
import gzip
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, cast

from haechi.discovery.chunks import BinaryChunk, Chunk, TextChunk, record_chunk
from haechi.discovery.findings import Location

__all__ = [
    "BLOCK_SIZE",
    "MAX_LINE",
    "FileKind",
    "SkipFile",
    "binary_chunks",
    "file_chunks",
    "file_kind",
    "iter_files",
    "range_chunks",
    "text_chunks",
]

BLOCK_SIZE = 1 << 20
MAX_LINE = 4 << 20
_DELIMITERS = b" \t,;\"'<>{}[]()|"
_SNIFF = 64 << 10

FileKind = Literal["text", "gzip", "xlsx"]


class SkipFile(Exception):
    """A file is not scannable (binary, unreadable); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Encoding:
    codec: str | None  # None: pass bytes through
    skip: int  # BOM bytes to drop


def file_kind(path: Path) -> FileKind:
    """Tell how to read ``path``: by extension, then by the gzip magic number."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".gz":
        return "gzip"
    with path.open("rb") as handle:
        if handle.read(2) == b"\x1f\x8b":
            return "gzip"
    return "text"


def iter_files(paths: Iterable[Path], *, include_hidden: bool = False) -> Iterator[Path]:
    """Yield regular files under ``paths`` (recursing into directories, sorted).

    Hidden files and directories (name starting with a dot) are left out unless
    ``include_hidden``; symbolic links to directories are not followed.
    """
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if include_hidden or not d.startswith("."))
                for name in sorted(files):
                    if include_hidden or not name.startswith("."):
                        candidate = Path(root, name)
                        if candidate.is_file():
                            yield candidate
        elif path.is_file():
            yield path


def _sniff(head: bytes) -> _Encoding:
    if head.startswith(codecs.BOM_UTF8):
        return _Encoding(None, 3)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _Encoding("utf-16", 0)
    if b"\x00" in head[:8192]:
        raise SkipFile("binary file")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        try:
            codecs.getincrementaldecoder("cp949")().decode(head, final=False)
        except UnicodeDecodeError:
            return _Encoding(None, 0)
        return _Encoding("cp949", 0)
    return _Encoding(None, 0)


def _read_blocks(stream: BinaryIO, block_size: int = BLOCK_SIZE) -> Iterator[bytes]:
    while block := stream.read(block_size):
        yield block


def _transcode(blocks: Iterable[bytes], encoding: _Encoding) -> Iterator[bytes]:
    iterator = iter(blocks)
    if encoding.codec is None:
        first = next(iterator, b"")
        if first[encoding.skip :]:
            yield first[encoding.skip :]
        yield from iterator
        return
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors="replace")
    for block in iterator:
        text = decoder.decode(block)
        if text:
            yield text.encode("utf-8")
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail.encode("utf-8")


def _cut(buf: bytes) -> int:
    """Where to cut a line longer than MAX_LINE: after the last delimiter near the end."""
    window = max(0, len(buf) - 4096)
    best = max(buf.rfind(bytes([byte]), window) for byte in _DELIMITERS)
    return best + 1 if best >= 0 else len(buf)


def text_chunks(
    blocks: Iterable[bytes], source: str, *, chunk_size: int = BLOCK_SIZE
) -> Iterator[TextChunk]:
    """Regroup byte blocks into chunks of whole lines (see the module docstring)."""
    pending = b""
    line = 1
    column = 0
    for block in blocks:
        pending += block
        while len(pending) >= chunk_size:
            cut = pending.rfind(b"\n") + 1
            if cut == 0:
                if len(pending) < MAX_LINE:
                    break
                cut = _cut(pending[:MAX_LINE])
            piece, pending = pending[:cut], pending[cut:]
            yield TextChunk(piece, source, line, column)
            newlines = piece.count(b"\n")
            if newlines:  # a cut at a newline: the next chunk starts a line
                line += newlines
                column = 0
            else:
                column += len(piece.decode("utf-8", "replace"))
    if pending:
        yield TextChunk(pending, source, line, column)


def _open_stream(path: Path, kind: FileKind) -> BinaryIO:
    if kind == "gzip":
        return cast(BinaryIO, gzip.open(path, "rb"))
    return path.open("rb")


def file_chunks(path: Path, *, source: str | None = None, binary: bool = False) -> Iterator[Chunk]:
    """Yield the chunks of one file, whatever its kind.

    Raises :class:`SkipFile` (before yielding anything) for a binary file, unless
    ``binary``: then its text is scanned (:func:`binary_chunks`).
    """
    label = source if source is not None else str(path)
    kind = file_kind(path)
    if kind == "xlsx":
        yield from _xlsx_chunks(path, label)
        return
    with _open_stream(path, kind) as stream:
        try:
            head = stream.read(_SNIFF)
        except (OSError, EOFError) as error:
            raise SkipFile(f"unreadable ({type(error).__name__})") from None
        try:
            encoding = _sniff(head)
        except SkipFile:
            if not binary:
                raise
            yield from binary_chunks(_chain(head, _read_blocks(stream)), label)
            return
        blocks = _transcode(_chain(head, _read_blocks(stream)), encoding)
        yield from text_chunks(blocks, label)


# Every control byte but tab ends a run of text: recognizers see one run per line.
_RUN_BREAKS = bytes(
    0x0A if (byte < 0x20 and byte != 0x09) or byte == 0x7F else byte for byte in range(256)
)


def binary_chunks(
    blocks: Iterable[bytes], source: str, *, chunk_size: int = BLOCK_SIZE
) -> Iterator[BinaryChunk]:
    """The text runs of a binary stream, cut between runs so that no value is split.

    A run longer than :data:`MAX_LINE` is cut where it reaches that length.
    """
    pending = b""
    offset = 0
    for block in blocks:
        pending += block.translate(_RUN_BREAKS)
        while len(pending) >= chunk_size:
            cut = pending.rfind(b"\n") + 1
            if cut == 0:
                if len(pending) < MAX_LINE:
                    break
                cut = MAX_LINE
            yield BinaryChunk(pending[:cut], source, offset)
            offset += cut
            pending = pending[cut:]
    if pending:
        yield BinaryChunk(pending, source, offset)


def _chain(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    yield from rest


def range_chunks(path: Path, start: int, end: int, *, source: str | None = None) -> Iterator[Chunk]:
    """Yield the chunks of the lines of a plain text file that begin in ``[start, end)``.

    Line numbers in the chunks count from 1 at the first such line; the caller adds
    the lines before it. Ranges that tile a file give each line to exactly one range.
    """
    label = source if source is not None else str(path)
    with path.open("rb") as stream:
        head = stream.read(_SNIFF)
        encoding = _sniff(head)
        blocks = _ranged_blocks(stream, start, end)
        yield from text_chunks(_transcode(blocks, _Encoding(encoding.codec, 0)), label)


def count_range_lines(path: Path, start: int, end: int) -> int:
    """Count the newlines in the lines that begin in ``[start, end)``."""
    with path.open("rb") as stream:
        return sum(block.count(b"\n") for block in _ranged_blocks(stream, start, end))


def _ranged_blocks(stream: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    position = start
    stream.seek(start)
    if start > 0:
        stream.seek(start - 1)
        if stream.read(1) != b"\n":
            # The line under ``start`` began earlier: it belongs to the previous range.
            while True:
                block = stream.read(BLOCK_SIZE)
                if not block:
                    return
                newline = block.find(b"\n")
                if newline >= 0:
                    position = stream.tell() - len(block) + newline + 1
                    break
        if position >= end:
            return
        stream.seek(position)
    last = b"\n"
    while position < end:
        block = stream.read(min(BLOCK_SIZE, end - position))
        if not block:
            return
        position += len(block)
        last = block[-1:]
        yield block
    if last == b"\n":
        return
    # Finish the line that straddles ``end``.
    while True:
        block = stream.read(BLOCK_SIZE)
        if not block:
            return
        newline = block.find(b"\n")
        if newline >= 0:
            yield block[: newline + 1]
            return
        yield block


def _xlsx_chunks(path: Path, label: str, *, batch: int = 2000) -> Iterator[Chunk]:
    try:
        from openpyxl import load_workbook
        from openpyxl.utils import get_column_letter
    except ImportError:  # pragma: no cover - declared dependency
        raise SkipFile("openpyxl is not installed") from None
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise SkipFile(f"unreadable workbook ({type(error).__name__})") from None
    try:
        for sheet in workbook.worksheets:
            headers: dict[int, str] = {}
            items: list[tuple[str, str, Location]] = []
            rows = sheet.iter_rows(min_row=1, min_col=1, values_only=True)
            for row_number, row in enumerate(rows, 1):
                for column_number, value in enumerate(row, 1):
                    text = _cell_text(value)
                    if text is None:
                        continue
                    if row_number == 1:
                        headers[column_number] = text
                    cell = f"{get_column_letter(column_number)}{row_number}"
                    location = Location(label, sheet=sheet.title, cell=cell)
                    items.append((headers.get(column_number, ""), text, location))
                if len(items) >= batch:
                    yield record_chunk(items)
                    items = []
            if items:
                yield record_chunk(items)
    finally:
        workbook.close()


def _cell_text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if abs(value) >= 100_000 else None
    if isinstance(value, float) and value.is_integer() and abs(value) >= 100_000:
        return str(int(value))
    return None
