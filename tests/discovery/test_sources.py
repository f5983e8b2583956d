"""File sources: formats, encodings, locations and constant memory on big files."""

from __future__ import annotations

import codecs
import gzip
import json
import tracemalloc
from pathlib import Path

import pytest
from openpyxl import Workbook

from haechi.discovery import Scanner, hyperscan_available, run_scan
from haechi.discovery.sources import (
    SkipFile,
    binary_chunks,
    count_range_lines,
    file_chunks,
    range_chunks,
    text_chunks,
)

SCANNER = Scanner(engine="re")
FILLER = "2023-10-15T09:12:44 INFO request handled in 12 ms, user agent Mozilla/5.0 안녕하세요\n"


def scan(path: Path) -> list[tuple[str, str]]:
    """Return (type, location) pairs found in one file."""
    return [(f.type, str(f.location)) for f in SCANNER.scan_chunks(file_chunks(path))]


def test_it_scans_csv_with_line_and_column(tmp_path: Path) -> None:
    """It reports file:line:column for a CSV cell."""
    path = tmp_path / "users.csv"
    path.write_text("name,phone\n홍길동,010-2345-6789\n", encoding="utf-8")
    assert scan(path) == [("phone", f"{path}:2:5")]


def test_it_scans_jsonl(tmp_path: Path) -> None:
    """It finds values inside JSON lines."""
    path = tmp_path / "events.jsonl"
    rows = [{"ip": "203.0.113.7"}, {"email": "kim@example.com"}]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert [kind for kind, _ in scan(path)] == ["ip_address", "email"]


def test_it_scans_gzip_by_content(tmp_path: Path) -> None:
    """It decompresses gzip files as it reads them, whatever their name."""
    path = tmp_path / "app.log.1"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(FILLER * 3 + "card 4111-1111-1111-1111\n")
    assert scan(path) == [("card", f"{path}:4:6")]


def test_it_scans_xlsx_cells_with_header_context(tmp_path: Path) -> None:
    """It reports sheet and cell, and uses the column header as context."""
    path = tmp_path / "book.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "고객"
    sheet.append(["이름", "계좌번호", "전화"])
    sheet.append(["홍길동", "110123456789", 1023456789])
    sheet.append(["김철수", "not a number", "010-2345-6789"])
    workbook.save(path)
    assert scan(path) == [
        ("bank_account", f"{path}[고객]!B2"),
        ("phone", f"{path}[고객]!C3"),
    ]


def test_it_transcodes_cp949_and_utf16(tmp_path: Path) -> None:
    """It reads legacy Korean and UTF-16 files with correct columns."""
    text = "담당자 전화 010-2345-6789\n"
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes(text.encode("cp949"))
    wide = tmp_path / "wide.txt"
    wide.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert scan(legacy) == [("phone", f"{legacy}:1:8")]
    assert scan(wide) == [("phone", f"{wide}:1:8")]


def test_it_skips_binary_files(tmp_path: Path) -> None:
    """It refuses to scan a file with NUL bytes."""
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(SkipFile):
        list(file_chunks(path))


def _planted_binary() -> tuple[bytes, dict[int, str]]:
    """Page-like bytes with an email and a phone between NULs and random-looking bytes."""
    email, phone = b"minji.kim@example.kr", b"010-2345-6789"
    head = b"SQLite format 3\x00" + bytes(range(256)) * 3 + b"\x00\x17"
    middle = b"\x00" * 700 + b"\x03\x81"
    data = head + email + middle + phone + b"\x00" * 300
    return data, {len(head): "email", len(head) + len(email) + len(middle): "phone"}


def test_it_scans_the_text_inside_binary_files_when_asked(tmp_path: Path) -> None:
    """It finds values between binary bytes, each at its byte offset in the file."""
    data, planted = _planted_binary()
    path = tmp_path / "haechi.db-wal"
    path.write_bytes(data)
    found = list(SCANNER.scan_chunks(file_chunks(path, binary=True)))
    assert {f.location.offset: f.type for f in found} == planted
    assert {str(f.location) for f in found} == {f"{path}@{at}" for at in planted}
    report = run_scan([path], binary=True)
    assert report.skipped == []
    assert report.total == 2
    assert run_scan([path]).skipped[0].reason == "binary file"


def test_binary_chunks_never_split_a_value() -> None:
    """It cuts a binary stream between runs of text, keeping offsets exact."""
    data, planted = _planted_binary()
    blocks = [data[at : at + 64] for at in range(0, len(data), 64)]
    chunks = list(binary_chunks(blocks, "s", chunk_size=128))
    assert len(chunks) > 1
    assert b"".join(chunk.data for chunk in chunks) == data.translate(
        bytes(
            0x0A if (byte < 0x20 and byte != 0x09) or byte == 0x7F else byte for byte in range(256)
        )
    )
    found = [f for chunk in chunks for f in SCANNER.scan_chunk(chunk)]
    assert {f.location.offset: f.type for f in found} == planted


def test_chunks_keep_line_numbers_across_boundaries() -> None:
    """It counts lines across chunk cuts and keeps columns across a cut long line."""
    blocks = [b"a\n" * 10, b"b" * 50 + b" 010-2345-6789\n"]
    chunks = list(text_chunks(blocks, "s", chunk_size=8))
    findings = [f for chunk in chunks for f in SCANNER.scan_chunk(chunk)]
    assert [(f.location.line, f.location.column) for f in findings] == [(11, 52)]


def test_byte_ranges_give_each_line_once(tmp_path: Path) -> None:
    """It assigns every line to exactly one byte range, whatever the cut points."""
    path = tmp_path / "log.txt"
    lines = [f"line {i} tel 010-2345-{i:04d}\n" for i in range(200)]
    path.write_text("".join(lines), encoding="utf-8")
    size = path.stat().st_size
    for step in (1, 7, 64, 1000, size):
        seen = []
        offset = 0
        for start in range(0, size, step):
            end = min(size, start + step)
            for chunk in range_chunks(path, start, end):
                seen.extend((f.location.line or 0) + offset for f in SCANNER.scan_chunk(chunk))
            offset += count_range_lines(path, start, end)
        assert seen == list(range(1, 201)), step


def test_parallel_workers_find_the_same_as_one(tmp_path: Path) -> None:
    """It finds the same values, at the same places, with several workers."""
    for index in range(4):
        (tmp_path / f"f{index}.log").write_text(
            FILLER * index + f"ip 10.0.0.{index + 1}\n", encoding="utf-8"
        )
    one = run_scan([tmp_path], engine="re", workers=1)
    two = run_scan([tmp_path], engine="re", workers=2)
    assert sorted(map(str, (f.location for f in one.findings))) == sorted(
        map(str, (f.location for f in two.findings))
    )
    assert one.files_scanned == two.files_scanned == 4


def _big_file(path: Path, megabytes: int) -> dict[int, str]:
    """Write filler text with an identifier every so often; return line → type."""
    block_lines = 700
    block = FILLER * block_lines
    planted: dict[int, str] = {}
    line = 0
    with path.open("w", encoding="utf-8") as handle:
        written = 0
        while written < megabytes << 20:
            handle.write(block)
            written += len(block.encode("utf-8"))
            line += block_lines
            handle.write("연락처 010-2345-6789\n")
            line += 1
            planted[line] = "phone"
    return planted


@pytest.mark.skipif(not hyperscan_available(), reason="the hyperscan wheel is not installed")
def test_it_streams_a_large_file_in_constant_memory(tmp_path: Path) -> None:
    """It scans a 64 MB file while holding only a few MB, reporting every planted value."""
    path = tmp_path / "big.log"
    planted = _big_file(path, 64)
    scanner = Scanner(engine="hyperscan")
    tracemalloc.start()
    try:
        found = {f.location.line: f.type for f in scanner.scan_chunks(file_chunks(path))}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == planted
    assert peak < 16 << 20


def test_re_engine_streams_in_constant_memory(tmp_path: Path) -> None:
    """It keeps memory flat with the pure-Python engine too (smaller file, slower engine)."""
    path = tmp_path / "big.log"
    planted = _big_file(path, 8)
    tracemalloc.start()
    try:
        found = {f.location.line: f.type for f in SCANNER.scan_chunks(file_chunks(path))}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == planted
    assert peak < 16 << 20
