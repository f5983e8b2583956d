"""``haechi keys``: the epoch keys, the key job, rotation (docs/keys.md).

The tables show key ids and dates and counts only: no key, no personal value.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from haechi.cli.common import DatabaseOption, DataOption, opened, progress_bar
from haechi.cli.staff import ByOption, operator
from haechi.errors import InvalidInput
from haechi.retention.keys import KeyReport, KeyStatus

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="Epoch keys: status, the key job, rotation (see docs/keys.md).", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

REINDEX_REFUSAL = (
    "blind-index key rotation is not offered: the index is an HMAC of normalised emails "
    "and phones, and rotating its key means recomputing every digest from the sealed items "
    "in one pass that no lookup may overlap; see docs/keys.md, 'The blind-index key'"
)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=_json_default) + "\n")


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _show_status(status: KeyStatus) -> None:
    table = Table(
        "epoch key",
        "store",
        "deadlines from",
        "data keys",
        "state",
        "shredded since",
        "destroyed after",
        title=f"Epoch keys ({status.provider}; backup window {status.backup_window})",
    )
    table.columns[0].no_wrap = True
    for epoch in status.epochs:
        state = "retired" if epoch.retired_at else "current"
        if not epoch.held:
            state += ", NOT HELD"
        table.add_row(
            epoch.id,
            epoch.store,
            epoch.period_start.strftime("%Y-%m-%d"),
            str(epoch.data_keys),
            state,
            _day(epoch.shred_at),
            _day(epoch.destroy_after),
        )
    out.print(table)
    out.print(
        f"{status.legacy_data_keys} data key(s) still wrapped by master key "
        f"{status.master_key_id} (the key job moves them to epochs); "
        f"{status.destroyed_epochs} epoch key(s) destroyed so far.",
        markup=False,
        soft_wrap=True,
    )


@keys_app.command("status")
def status(
    data: DataOption = None, database: DatabaseOption = None, as_json: JsonOption = False
) -> None:
    """The epoch keys, what each protects (counts), when each is due to go."""
    with opened(data, database) as engine:
        report = engine.key_status(actor=operator(None))
    if as_json:
        _print_json(asdict(report))
        return
    _show_status(report)


def _run(engine: Any, by: str | None, as_json: bool) -> KeyReport:
    if as_json:
        return engine.run_keys(actor=operator(by))  # type: ignore[no-any-return]
    with progress_bar(err) as progress:
        return engine.run_keys(actor=operator(by), progress=progress)  # type: ignore[no-any-return]


def _show_run(report: KeyReport, as_json: bool) -> None:
    if as_json:
        _print_json(asdict(report))
        return
    if report.skipped:
        out.print("The key job is running on another server; nothing done here.")
        return
    table = Table("upgraded", "epochs rotated", "data keys moved", "epoch keys destroyed")
    table.add_row(
        str(report.upgraded),
        str(len(report.rotated_epochs)),
        str(report.moved),
        str(len(report.destroyed)),
    )
    out.print(table)
    for epoch_id in report.destroyed:
        out.print(f"destroyed {epoch_id} (recorded in the audit log)", markup=False)


@keys_app.command("run")
def run(
    data: DataOption = None,
    database: DatabaseOption = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the key job now: move data keys off rotated epochs, destroy expired epoch keys."""
    with opened(data, database) as engine:
        report = _run(engine, by, as_json)
    _show_run(report, as_json)


@keys_app.command("rotate")
def rotate(
    data: DataOption = None,
    database: DatabaseOption = None,
    epoch: Annotated[
        list[str] | None,
        typer.Option(
            "--epoch", help="Rotate this epoch key only (repeatable).", show_default=False
        ),
    ] = None,
    master: Annotated[
        bool, typer.Option("--master", help="Rotate the master key instead (docs/keys.md).")
    ] = False,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rotate epoch keys now (all current ones, or those named); old ones go after the window."""
    with opened(data, database) as engine:
        if master:
            if epoch:
                raise InvalidInput("--master takes no --epoch", field="epoch")
            rotation = engine.rotate_master(actor=operator(by))
            report = _run(engine, by, as_json)
            if as_json:
                _print_json({"master": asdict(rotation), "run": asdict(report)})
                return
            out.print(
                f"Master key {rotation.new_key_id} in use; {rotation.old_key_id} is retired and "
                f"is destroyed a backup window from now ({report.master_rewrapped} key(s) "
                "sealed again under the new one).",
                markup=False,
                soft_wrap=True,
            )
            _show_run(report, as_json=False)
            return
        marked = engine.rotate_epochs(actor=operator(by), epoch_ids=epoch or None)
        if epoch and len(marked) < len(set(epoch)):
            raise InvalidInput("--epoch names no current epoch key", field="epoch")
        report = _run(engine, by, as_json)
    if as_json:
        _print_json({"marked": marked, "run": asdict(report)})
        return
    out.print(f"{len(marked)} epoch key(s) rotated.")
    _show_run(report, as_json=False)


@keys_app.command("reindex")
def reindex(data: DataOption = None, database: DatabaseOption = None) -> None:
    """Rotating the blind-index key: refused, for the reason docs/keys.md gives."""
    del data, database
    err.print(f"error: {REINDEX_REFUSAL}", markup=False, soft_wrap=True)
    raise typer.Exit(2)
