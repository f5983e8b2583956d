"""``haechi audit``: seal, verify, prove and prune the tamper-evident access log."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from haechi.audit.signing import TreeHead
from haechi.cli.common import DatabaseOption, DataOption, log_jobs, opened
from haechi.engine import Engine
from haechi.errors import InvalidInput
from haechi.jobs import SEALER, job_locks

__all__ = ["alerts_app", "audit_app"]

audit_app = typer.Typer(help="The tamper-evident access log.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@audit_app.command("seal")
def seal(
    data: DataOption = None,
    database: DatabaseOption = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep sealing until stopped (SIGTERM or Ctrl-C).")
    ] = False,
) -> None:
    """Seal every waiting event under signed tree heads (continuously with --follow)."""
    with opened(data, database) as engine:
        sealed = engine.seal_all()
        if follow:
            sealed += _follow(engine)
        heads = engine.tree_heads()
    size = heads[-1].size if heads else 0
    out.print(f"Sealed {sealed:,} events; the log holds {size:,} under {len(heads):,} heads.")


def _follow(engine: Engine) -> int:
    """Seal every interval until SIGTERM, SIGINT or the parent's exit; seal once more."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sealed = 0
    interval = engine.settings.audit.seal_interval_seconds
    parent = os.getppid()
    # One sealer seals at a time across all servers; the others stand by to take over.
    log_jobs()
    locks = job_locks(engine.database, locks_url=engine.settings.database.locks_url)
    try:
        # A sealer whose server was killed outright must not live on, orphaned.
        while not stop.wait(interval) and os.getppid() == parent:
            try:
                if locks.owns(SEALER):
                    sealed += engine.seal_all()
            except Exception as exc:
                err.print(f"sealing failed: {type(exc).__name__}", markup=False)
    finally:
        locks.close()
    return sealed + engine.seal_all()


def _read_witness(path: Path) -> list[TreeHead]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [TreeHead.from_json(head) for head in document["heads"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"{path} is not a file written by `haechi audit export-heads` ({type(exc).__name__})",
            field="witness",
        ) from None


@audit_app.command("verify")
def verify(
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    witness: Annotated[
        Path | None, typer.Option(help="Heads exported earlier, held by an outside witness.")
    ] = None,
) -> None:
    """Recompute every root and check every signature; exit 1 on any tampering."""
    held = _read_witness(witness) if witness else []
    with opened(data, database) as engine:
        report = engine.verify_log(witness=held)
    if as_json:
        _print_json(report.to_json())
    elif report.ok:
        out.print(
            f"[green]OK[/green]: {report.size:,} leaves under {report.heads:,} signed heads "
            f"verified ({report.leaves_checked:,} rechecked"
            + (f", pruned below {report.pruned_below:,}" if report.pruned_below else "")
            + (f", {len(held)} witness heads" if held else "")
            + ")."
        )
    else:
        err.print(f"[red]FAILED[/red]: first bad leaf {report.first_bad_leaf}")
        for problem in report.problems:
            err.print(f"  {problem}", markup=False)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("prove")
def prove(
    event_id: Annotated[int, typer.Argument(help="The audit event's id.")],
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Print the inclusion proof of one event in the newest signed head."""
    with opened(data, database) as engine:
        proof = engine.prove(event_id)
    _print_json({**proof.to_json(), "verified": proof.verify()})


@audit_app.command("consistency")
def consistency(
    old_size: Annotated[int, typer.Argument(help="Size of the older head.")],
    new_size: Annotated[int, typer.Argument(help="Size of the newer head.")],
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Print the proof that the older head's tree is a prefix of the newer head's."""
    with opened(data, database) as engine:
        proof = engine.consistency(old_size, new_size)
    _print_json({**proof.to_json(), "verified": proof.verify()})


@audit_app.command("export-heads")
def export_heads(
    file: Annotated[Path, typer.Argument(help="Where to write the heads (JSON).")],
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Write every signed head and the public key, for an outside witness to keep."""
    with opened(data, database) as engine:
        heads = engine.tree_heads()
        document = {
            "public_key": engine.signer.public_pem(),
            "key_id": engine.signer.key_id,
            "heads": [head.to_json() for head in heads],
        }
    file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    out.print(f"Wrote {len(heads):,} heads to {file}.", markup=False)


@audit_app.command("prune")
def prune(data: DataOption = None, database: DatabaseOption = None) -> None:
    """Remove events older than the log retention, at a signed boundary."""
    with opened(data, database) as engine:
        subjects = engine.subject_count()
        threshold = engine.settings.audit.large_installation_subjects
        retention = engine.log_retention()
        result = engine.prune_log()
    if subjects >= threshold:
        err.print(
            f"[yellow]warning[/yellow]: {subjects:,} subjects (≥ {threshold:,}): "
            f"the access log is kept at least two years (retention {retention})."
        )
    out.print(
        f"Removed {result.events_removed:,} events older than {retention}; "
        f"the log now starts at leaf {result.boundary:,}."
    )


def _bar(value: int, largest: int, width: int = 24) -> str:
    filled = round(width * value / largest) if largest else 0
    return "█" * filled + "·" * (width - filled)


@audit_app.command("review")
def review(
    month: Annotated[str, typer.Argument(help="The month to inspect, YYYY-MM.")],
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    record: Annotated[
        bool, typer.Option("--record", help="Record that the review was done.")
    ] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who reviewed (with --record).")] = None,
    notes: Annotated[str, typer.Option(help="Findings of the review (with --record).")] = "",
) -> None:
    """The month's accesses per actor with their alerts; record the review with --record."""
    with opened(data, database) as engine:
        engine.run_monitors()
        if record:
            if not by:
                raise InvalidInput("--record needs --by NAME", field="by")
            engine.record_review(month, reviewer=by, notes=notes)
        result = engine.review(month)
    if as_json:
        _print_json(result.to_json())
        return
    table = Table(title=f"Access log, {result.month}: accesses per actor")
    table.add_column("actor")
    table.add_column("reads", justify="right")
    table.add_column("", no_wrap=True)
    for column in ("subjects", "downloads", "denied", "alerts"):
        table.add_column(column, justify="right")
    largest = max((activity.reads for activity in result.actors), default=0)
    for activity in result.actors:
        table.add_row(
            activity.actor,
            f"{activity.reads:,}",
            _bar(activity.reads, largest),
            f"{activity.subjects:,}",
            f"{activity.downloads:,}",
            f"{activity.denied:,}",
            f"[red]{activity.alerts}[/red]" if activity.alerts else "0",
        )
    out.print(table)
    for alert in result.alerts:
        out.print(f"alert #{alert.id} {alert.rule} {alert.actor} {alert.detail}", markup=False)
    for done in result.reviews:
        out.print(f"Reviewed by {done['reviewer']} at {done['recorded_at']}: {done['notes']}")
    if not result.reviews:
        out.print("[yellow]Not reviewed yet[/yellow] (record it with --record --by NAME).")


alerts_app = typer.Typer(help="Alerts raised by the access-log monitors.", no_args_is_help=True)


@alerts_app.command("list")
def alerts_list(
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the monitors over new events, then list alerts, newest first."""
    with opened(data, database) as engine:
        engine.run_monitors()
        alerts = engine.alerts()
    if as_json:
        _print_json([alert.to_json() for alert in alerts])
        return
    table = Table("id", "rule", "actor", "raised", "window", "detail", title="Alerts")
    for alert in alerts:
        table.add_row(
            str(alert.id),
            alert.rule,
            alert.actor,
            alert.raised_at.strftime("%Y-%m-%d %H:%M"),
            f"{alert.window_start:%m-%d %H:%M} – {alert.window_end:%m-%d %H:%M}",
            json.dumps(alert.detail, ensure_ascii=False),
        )
    out.print(table)
