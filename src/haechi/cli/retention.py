"""``haechi sweep`` and ``haechi destruction``: retention clocks and destruction records.

Tables here never cut an id: an officer pastes them into ``destruction confirm``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from haechi.audit.review import FIRST_YEAR, LAST_YEAR
from haechi.cli.common import DatabaseOption, DataOption, opened, progress_bar
from haechi.errors import InvalidInput
from haechi.retention.records import BatchInfo, Certificate

__all__ = ["destruction_app", "sweep"]

destruction_app = typer.Typer(
    help="Destruction records: batches, confirmation, paper.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)


def _moment(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 time with its offset; a time without one is refused, never guessed."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO 8601 time", field=field) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{field} must give its UTC offset (e.g. +09:00 or Z)", field=field)
    # Years a record can hold: near datetime's own ends, the grace and retention
    # arithmetic (and the conversion to UTC) overflow.
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise InvalidInput(
            f"{field} must lie between the years {FIRST_YEAR} and {LAST_YEAR}", field=field
        )
    return moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _id_column(table: Table, header: str) -> None:
    table.add_column(header, no_wrap=True, overflow="fold")


def _show(table: Table) -> None:
    """Print ``table`` with its id columns whole, wider than the terminal if need be.

    The terminal then wraps whole lines, and an id copied from them pastes intact.
    """
    # Measured without the terminal's limit, which would clamp the answer to it.
    needed = Measurement.get(out, out.options.update(width=10_000), table).minimum
    if needed <= out.width:
        out.print(table)
    else:
        Console(width=needed, file=out.file).print(table)


def sweep(
    data: DataOption = None,
    database: DatabaseOption = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Sweep as of this ISO time (default: now).", show_default=False),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, change nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Separate data under legal holds and destroy what is due, with certificates.

    ``--now`` asks what a sweep at another time would do: it goes with ``--dry-run``,
    since a real sweep destroys what is due now and records the true time.
    """
    moment = _moment(now, "now")
    if moment is not None and not dry_run:
        raise InvalidInput("--now goes with --dry-run only", field="now")
    with opened(data, database) as engine:
        if as_json:
            report = engine.sweep(now=moment, dry_run=dry_run)
        else:
            with progress_bar(err) as progress:
                report = engine.sweep(now=moment, dry_run=dry_run, progress=progress)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
        return
    title = "Sweep (dry run: nothing changed)" if dry_run else "Sweep"
    table = Table("expired", "separated", "destroyed", "overdue", title=title)
    table.add_row(
        *(str(n) for n in (report.expired, report.separated, report.destroyed, report.overdue))
    )
    out.print(table)
    if report.batch_id:
        out.print(
            f"Batch {report.batch_id} awaits the privacy officer's confirmation: "
            f"haechi destruction confirm {report.batch_id} --by NAME",
            soft_wrap=True,
        )
    if report.overdue:
        err.print(
            f"warning: {report.overdue} collection(s) were overdue (past the grace period)"
            + ("" if dry_run else "; destroyed now"),
            markup=False,
        )


@destruction_app.command("list")
def destruction_list(
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List destruction batches (awaiting confirmation first), overdue data and paper records."""
    with opened(data, database) as engine:
        batches = engine.destruction_batches()
        overdue = engine.overdue()
        paper = engine.paper_records()
    batches.sort(key=lambda b: not b.awaiting_confirmation)
    if as_json:
        document = {
            "batches": [_batch_json(b) for b in batches],
            "overdue": overdue,
            "paper": [
                {
                    "id": p.id,
                    "what": p.description,
                    "method": p.method.value,
                    "by": p.destroyed_by,
                    "witness": p.witness,
                    "destroyed_at": p.destroyed_at.isoformat(),
                }
                for p in paper
            ],
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title="Destruction batches")
    _id_column(table, "batch")
    for header in ("created", "destroyed", "confirmed"):
        table.add_column(header, overflow="fold")
    for b in batches:
        table.add_row(
            b.id,
            b.created_at.strftime("%Y-%m-%d %H:%M"),
            str(b.destroyed),
            f"{b.confirmed_by} {b.confirmed_at:%Y-%m-%d}" if b.confirmed_at else "awaiting",
        )
    _show(table)
    if overdue:
        err.print(f"{len(overdue)} collection(s) overdue for destruction:", markup=False)
        for collection_id in overdue:
            err.print(f"  {collection_id}", markup=False, soft_wrap=True)


def _certificate_json(c: Certificate) -> dict[str, Any]:
    return {
        "id": c.id,
        "collection_id": c.collection_id,
        "subject_id": c.subject_id,
        "purpose": c.purpose,
        "items": c.items,
        "method": c.method,
        "reason": c.reason,
        "due_at": c.due_at.isoformat(),
        "destroyed_at": c.destroyed_at.isoformat(),
        "overdue": c.overdue,
    }


def _batch_json(b: BatchInfo) -> dict[str, Any]:
    return {
        "id": b.id,
        "created_at": b.created_at.isoformat(),
        "created_by": b.created_by,
        "destroyed": b.destroyed,
        "awaiting_confirmation": b.awaiting_confirmation,
        "confirmed_by": b.confirmed_by,
        "confirmed_at": _iso(b.confirmed_at),
    }


@destruction_app.command("show")
def destruction_show(
    batch: Annotated[str, typer.Argument(help="The batch id printed by `haechi sweep`.")],
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a batch's certificates (what was destroyed, how, why, when) before confirming."""
    with opened(data, database) as engine:
        info, certificates = engine.destruction_batch(batch)
    if as_json:
        shown = [_certificate_json(c) for c in certificates]
        document = {**_batch_json(info), "certificates": shown}
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return
    status = (
        f"confirmed by {info.confirmed_by} {info.confirmed_at:%Y-%m-%d %H:%M}"
        if info.confirmed_at
        else "awaiting confirmation"
    )
    out.print(
        f"Batch {info.id}: {info.destroyed} collection(s) destroyed by {info.created_by}"
        f" at {info.created_at:%Y-%m-%d %H:%M} UTC; {status}.",
        markup=False,
        soft_wrap=True,
    )
    table = Table(title="Certificates")
    _id_column(table, "collection")
    for header in ("purpose", "items", "method", "reason", "destroyed (UTC)"):
        table.add_column(header, overflow="fold")
    for c in certificates:
        table.add_row(
            c.collection_id,
            c.purpose,
            ", ".join(c.items),
            c.method,
            c.reason + (" (overdue)" if c.overdue else ""),
            f"{c.destroyed_at:%Y-%m-%d %H:%M}",
        )
    _show(table)


@destruction_app.command("confirm")
def destruction_confirm(
    batch: Annotated[str, typer.Argument(help="The batch id printed by `haechi sweep`.")],
    by: Annotated[str, typer.Option("--by", help="The confirming privacy officer.")],
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Record the privacy officer's confirmation on a batch's certificates."""
    with opened(data, database) as engine:
        confirmed = engine.confirm_destruction(batch, by=by)
    out.print(
        f"Batch {confirmed.id} ({confirmed.destroyed} collections) confirmed by {by}.",
        markup=False,
        soft_wrap=True,
    )


@destruction_app.command("record-paper")
def destruction_record_paper(
    what: Annotated[
        str, typer.Option("--what", help="The documents (never personal values in it).")
    ],
    method: Annotated[str, typer.Option("--method", help="shredding or incineration.")],
    by: Annotated[str, typer.Option("--by", help="Who destroyed them.")],
    witness: Annotated[str, typer.Option("--witness", help="Who witnessed it.")],
    at: Annotated[
        str | None, typer.Option("--at", help="When (ISO time; default now).", show_default=False)
    ] = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Register destroyed paper documents: what, how, by whom, before which witness."""
    moment = _moment(at, "at")
    with opened(data, database) as engine:
        record = engine.record_paper(
            description=what, method=method, destroyed_by=by, witness=witness, destroyed_at=moment
        )
    out.print(
        f"Paper destruction {record.id} recorded ({record.method.value}).",
        markup=False,
        soft_wrap=True,
    )
