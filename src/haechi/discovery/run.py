"""Run a whole scan: files and directories (in parallel workers) and a database.

:func:`run_scan` is what ``haechi scan`` calls. Work is cut into tasks: one per
file, except that a large plain text file is cut into byte ranges of whole lines
when several workers are asked for. Tasks run in a process pool; each worker
builds its own :class:`~haechi.discovery.scanner.Scanner` (Hyperscan databases do
not cross processes). Results come back in task order, so line numbers of a split
file are fixed up by adding the lines of the ranges before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from haechi.discovery.database import DatabaseStats, database_chunks
from haechi.discovery.findings import Finding
from haechi.discovery.report import DEFAULT_MAX_FINDINGS, ScanReport, SkippedSource
from haechi.discovery.scanner import DEFAULT_MIN_CONFIDENCE, Scanner
from haechi.discovery.sources import (
    SkipFile,
    file_chunks,
    file_kind,
    iter_files,
    range_chunks,
)
from haechi.errors import InvalidInput

__all__ = ["Progress", "ScanOptions", "run_scan", "scan_paths"]

Progress = Callable[[int, int], None]

#: smallest byte range a file is cut into for parallel workers
MIN_RANGE = 16 << 20


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to build a scanner; passed to worker processes (it pickles)."""

    declared_types: frozenset[str] = frozenset()
    engine: str = "auto"
    types: frozenset[str] | None = None
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    max_findings: int = DEFAULT_MAX_FINDINGS
    binary: bool = False

    def scanner(self) -> Scanner:
        """Build the scanner these options describe."""
        return Scanner(
            declared_types=self.declared_types,
            engine=self.engine,
            types=self.types,
            min_confidence=self.min_confidence,
        )


@dataclass(frozen=True, slots=True)
class _Task:
    path: Path
    size: int
    start: int = 0
    end: int | None = None  # None: the whole file


@dataclass(slots=True)
class _Result:
    findings: list[Finding] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    lines: int = 0
    skipped: str | None = None


_worker_scanner: Scanner | None = None
_worker_options: ScanOptions | None = None


def _init_worker(options: ScanOptions) -> None:
    global _worker_scanner, _worker_options
    _worker_options = options
    _worker_scanner = options.scanner()


def _run_task(task: _Task) -> _Result:
    assert _worker_scanner is not None
    assert _worker_options is not None
    return _scan_task(_worker_scanner, task, _worker_options)


def _scan_task(scanner: Scanner, task: _Task, options: ScanOptions) -> _Result:
    result = _Result()
    source = str(task.path)
    max_findings = options.max_findings
    try:
        if task.end is None:
            chunks = file_chunks(task.path, source=source, binary=options.binary)
        else:
            chunks = range_chunks(task.path, task.start, task.end, source=source)
        for chunk in chunks:
            if task.end is not None:
                result.lines += chunk.data.count(b"\n")
            for finding in scanner.scan_chunk(chunk):
                result.counts[(finding.type, finding.location.resource)] += 1
                if len(result.findings) < max_findings:
                    result.findings.append(finding)
    except SkipFile as skip:
        result.skipped = skip.reason
    except OSError as error:
        result.skipped = f"unreadable ({type(error).__name__})"
    return result


def _plan(files: Sequence[Path], workers: int) -> list[_Task]:
    tasks: list[_Task] = []
    for path in files:
        try:
            size = path.stat().st_size
            kind = file_kind(path)
        except OSError:
            tasks.append(_Task(path, 0))
            continue
        if workers > 1 and kind == "text" and size >= 2 * MIN_RANGE and _splittable(path):
            step = max(MIN_RANGE, -(-size // (workers * 2)))
            for start in range(0, size, step):
                tasks.append(_Task(path, size, start, min(size, start + step)))
        else:
            tasks.append(_Task(path, size))
    return tasks


def _splittable(path: Path) -> bool:
    """Plain UTF-8 or CP949 text: not UTF-16, not binary (scanned whole, by offset)."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    return head[:2] not in (b"\xff\xfe", b"\xfe\xff") and b"\x00" not in head


def _results(
    tasks: list[_Task], options: ScanOptions, workers: int, scanner: Scanner | None
) -> Iterator[_Result]:
    if workers <= 1 or len(tasks) <= 1:
        scanner = scanner or options.scanner()
        for task in tasks:
            yield _scan_task(scanner, task, options)
        return
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(options,)
    ) as pool:
        yield from pool.map(_run_task, tasks)


def scan_paths(
    paths: Sequence[Path],
    options: ScanOptions,
    report: ScanReport,
    *,
    workers: int = 1,
    progress: Progress | None = None,
    include_hidden: bool = False,
    scanner: Scanner | None = None,
) -> None:
    """Scan files and directories into ``report`` (see :func:`run_scan`).

    ``scanner`` (built from ``options``) is reused when the scan runs in this process.
    """
    files = list(iter_files(paths, include_hidden=include_hidden))
    tasks = _plan(files, workers)
    total = sum(task.size if task.end is None else task.end - task.start for task in tasks)
    done = 0
    if progress is not None:
        progress(0, total)
    line_offset = 0
    scanned: set[Path] = set()
    for task, result in zip(tasks, _results(tasks, options, workers, scanner), strict=True):
        done += task.size if task.end is None else task.end - task.start
        if result.skipped is not None:
            if task.path not in scanned:
                report.skipped.append(SkippedSource(str(task.path), result.skipped))
                scanned.add(task.path)
        else:
            if task.start == 0:
                line_offset = 0
            findings = result.findings
            if line_offset:
                findings = [_shift(finding, line_offset) for finding in findings]
            line_offset += result.lines
            room = max(0, report.max_findings - len(report.findings))
            report.findings.extend(findings[:room])
            if len(findings) > room or sum(result.counts.values()) > len(findings):
                report.truncated = True
            report.merge_counts(result.counts)
            if task.path not in scanned:
                scanned.add(task.path)
                report.files_scanned += 1
                report.bytes_scanned += task.size
        if progress is not None:
            progress(done, total)


def _shift(finding: Finding, lines: int) -> Finding:
    location = finding.location
    if location.line is None:
        return finding
    return replace(finding, location=replace(location, line=location.line + lines))


def run_scan(
    paths: Sequence[Path],
    *,
    db_url: str | None = None,
    declared_types: Collection[str] = (),
    workers: int = 1,
    engine: str = "auto",
    progress: Progress | None = None,
    db_sample: int | None = None,
    db_tables: Collection[str] | None = None,
    db_schema: str | None = None,
    types: Collection[str] | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    max_findings: int = DEFAULT_MAX_FINDINGS,
    include_hidden: bool = False,
    binary: bool = False,
) -> ScanReport:
    """Scan files, directories and (optionally) a database; return the report.

    Args:
        paths: files and directories (recursed, hidden entries skipped).
        db_url: a SQLAlchemy URL; every reflected table is scanned.
        declared_types: finding types the policy declares.
        workers: processes for the file scan (1 scans in this process).
        engine: prefilter engine: "auto", "re" or "hyperscan".
        progress: called as ``progress(bytes_done, bytes_total)`` over the files.
        db_sample: scan only the first N rows of each table.
        db_tables: scan only these tables.
        db_schema: the schema to reflect (the default one otherwise).
        types: look only for these finding types.
        min_confidence: drop findings below this confidence.
        max_findings: keep at most this many findings in the report (all are counted).
        include_hidden: also scan hidden files and directories.
        binary: scan the text inside binary files (database files, WAL) instead of
            skipping them; their findings are located by byte offset.

    Raises:
        InvalidInput: a path does not exist, ``workers`` < 1, a bad engine, type or URL.
        ConfigurationError: ``engine="hyperscan"`` where Hyperscan is not installed.
    """
    if workers < 1:
        raise InvalidInput("workers must be at least 1", field="workers")
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise InvalidInput(f"no such file or directory: {', '.join(missing)}", field="paths")
    options = ScanOptions(
        declared_types=frozenset(declared_types),
        engine=engine,
        types=frozenset(types) if types is not None else None,
        min_confidence=min_confidence,
        max_findings=max_findings,
        binary=binary,
    )
    scanner = options.scanner()  # validates the options before any work starts
    report = ScanReport(
        engine=scanner.engine,
        declared_types=options.declared_types,
        max_findings=max_findings,
    )
    if paths:
        scan_paths(
            paths,
            options,
            report,
            workers=workers,
            progress=progress,
            include_hidden=include_hidden,
            scanner=scanner,
        )
    if db_url is not None:
        stats = DatabaseStats()
        chunks = database_chunks(
            db_url, sample=db_sample, tables=db_tables, schema=db_schema, stats=stats
        )
        report.add(scanner.scan_chunks(chunks))
        report.tables_scanned += stats.tables
        report.rows_scanned += stats.rows
    return report
