"""``haechi scan``: find personal data in files and databases, and what the policy omits."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from haechi.config import Settings
from haechi.discovery import FAIL_ON, ScanReport, run_scan
from haechi.engine import declared_finding_types
from haechi.errors import InvalidInput
from haechi.policy import load_policy

__all__ = ["scan"]

out = Console()
err = Console(stderr=True)


def _declared(policy: Path | None, data: Path | None) -> tuple[frozenset[str], str]:
    if policy is None:
        candidate = Settings.load(data).policy_path
        if not candidate.is_file():
            return frozenset(), "no policy: every finding counts as undeclared"
        policy = candidate
    return declared_finding_types(load_policy(policy).policy), f"policy {policy}"


def _table(report: ScanReport, source: str) -> None:
    summary = Table(title=f"Personal data found ({source})")
    summary.add_column("type", no_wrap=True)
    summary.add_column("where", overflow="fold")
    summary.add_column("count", justify="right")
    summary.add_column("declared")
    for row in report.summary():
        summary.add_row(
            row.type, row.resource, f"{row.count:,}", "yes" if row.declared else "[red]no[/red]"
        )
    out.print(summary)
    findings = Table(title="Findings (values masked)")
    findings.add_column("location", overflow="fold")
    for column in ("type", "confidence", "value", "declared"):
        findings.add_column(column, no_wrap=True)
    for finding in report.findings[:200]:
        findings.add_row(
            str(finding.location),
            finding.type,
            f"{finding.confidence:.2f}",
            finding.masked,
            "yes" if finding.declared else "no",
        )
    if report.findings:
        out.print(findings)
    if len(report.findings) > 200:
        out.print(f"… {len(report.findings) - 200:,} more; use --format json for all.")
    for skipped in report.skipped:
        err.print(f"skipped {skipped.source}: {skipped.reason}", markup=False)
    out.print(
        f"{report.total:,} findings, {report.undeclared:,} undeclared, in "
        f"{report.files_scanned:,} files ({report.bytes_scanned / 1e6:,.1f} MB) and "
        f"{report.tables_scanned:,} tables ({report.rows_scanned:,} rows)."
    )


def scan(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files and directories.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL to scan too.")] = None,
    output: Annotated[
        str, typer.Option("--format", help="table, json or sarif.", case_sensitive=False)
    ] = "table",
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 1 on 'undeclared' or 'any' finding.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Parallel worker processes.")] = 1,
    sample: Annotated[
        int | None, typer.Option(help="Scan only the first N rows of each table.")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy file (default: the data directory's).")
    ] = None,
    data: Annotated[Path | None, typer.Option("--data", "-d", help="Data directory.")] = None,
    binary: Annotated[
        bool,
        typer.Option(
            "--binary",
            help="Also scan the text inside binary files (database files, WAL); "
            "findings there give a byte offset.",
        ),
    ] = False,
) -> None:
    """Scan files and databases for personal data; flag what the policy does not declare."""
    if output not in ("table", "json", "sarif"):
        raise InvalidInput("--format must be table, json or sarif", field="format")
    if fail_on is not None and fail_on not in FAIL_ON:
        raise InvalidInput(f"--fail-on must be one of {', '.join(FAIL_ON)}", field="fail-on")
    if not paths and db is None:
        raise InvalidInput("give at least one path or --db", field="paths")
    declared, source = _declared(policy, data)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("scanning", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = run_scan(
            paths or [],
            db_url=db,
            declared_types=declared,
            workers=workers,
            progress=progress,
            db_sample=sample,
            binary=binary,
        )
    if output == "json":
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    elif output == "sarif":
        sys.stdout.write(json.dumps(report.to_sarif(), ensure_ascii=False, indent=2) + "\n")
    else:
        _table(report, source)
    code = report.exit_code(fail_on)
    if code:
        raise typer.Exit(code)
