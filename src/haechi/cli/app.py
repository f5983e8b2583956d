"""The ``haechi`` command: thin Typer commands over :class:`haechi.Engine`.

Every Haechi error ends the command with exit code 2 and a one-line message on
stderr; no traceback reaches the terminal.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import tomli_w
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from haechi.access.staff import Role, create_staff
from haechi.config import SETTINGS_FILE, Settings
from haechi.crypto.keys import create_master_key_file
from haechi.engine import Engine
from haechi.errors import ConfigurationError, HaechiError, InvalidInput, PolicyInvalid
from haechi.policy import check_policy_text, demo_policy_text
from haechi.retention.schedule import SweepSchedule
from haechi.storage.database import create_db_engine
from haechi.storage.migrate import upgrade

__all__ = ["app", "main"]

app = typer.Typer(
    name="haechi",
    help="Personal-information custody engine: one policy file, enforced on every use.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
policy_app = typer.Typer(help="Check and inspect policy files.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for services, limited to purposes.", no_args_is_help=True)
destruction_app = typer.Typer(
    help="Destruction records: batches, confirmation, paper.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")
app.add_typer(tokens_app, name="tokens")
app.add_typer(destruction_app, name="destruction")

out = Console()
err = Console(stderr=True)

DEFAULT_DATA = Path("haechi-data")
DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", "-d", help="Data directory (default ./haechi-data).", show_default=False
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (sqlite:///… or postgresql://…); default: SQLite in the data directory.",
        show_default=False,
    ),
]


def _settings(data: Path | None, database: str | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    if database:
        overrides["database"] = {"url": database}
    return Settings.load(data, **overrides)


def _open(data: Path | None, database: str | None = None) -> Engine:
    settings = _settings(data, database)
    if not (settings.data_dir / SETTINGS_FILE).is_file():
        raise ConfigurationError(
            f"{settings.data_dir} is not a Haechi data directory; "
            f"run `haechi init {settings.data_dir}`"
        )
    return Engine.open(settings)


def initialise(settings: Settings, *, database: str | None) -> str:
    """Create a data directory; return the first privacy officer's one-time password."""
    data_dir = settings.data_dir
    if (data_dir / SETTINGS_FILE).exists():
        raise ConfigurationError(f"{data_dir} is already initialised")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    file_settings: dict[str, Any] = {"database": {"url": database}} if database else {}
    file_settings.setdefault("server", {"host": "127.0.0.1", "port": 8000})
    policy_path = data_dir / "policy.toml"
    if not policy_path.exists():
        policy_path.write_text(demo_policy_text(), encoding="utf-8")
    key_path = data_dir / "master.key"
    if not key_path.exists():
        create_master_key_file(key_path)
    with (data_dir / SETTINGS_FILE).open("wb") as handle:
        handle.write(b"# Haechi settings; HAECHI__SECTION__FIELD variables override them.\n")
        tomli_w.dump(file_settings, handle)
    settings = Settings.load(data_dir)
    database_engine = create_db_engine(settings.database_url)
    upgrade(database_engine)
    engine = Engine.open(settings)
    try:
        with engine.transaction() as connection:
            _, password = create_staff(
                connection, username="officer", role=Role.PRIVACY_OFFICER, now=engine.clock()
            )
    finally:
        engine.close()
        database_engine.dispose()
    return password


def _print_password(password: str) -> None:
    out.print(
        "Privacy officer account [bold]officer[/bold], one-time password "
        f"[bold]{password}[/bold] (shown once; change it at first login).",
        soft_wrap=True,
    )


@app.command()
def init(
    data_dir: Annotated[Path, typer.Argument(help="Directory to create.")] = DEFAULT_DATA,
    database: DatabaseOption = None,
) -> None:
    """Create a data directory: settings, demo policy, master key, database, first officer."""
    settings = _settings(data_dir, database)
    password = initialise(settings, database=database)
    out.print(f"Initialised [bold]{data_dir}[/bold] (policy.toml, master.key, {SETTINGS_FILE}).")
    _print_password(password)


@app.command()
def migrate(data: DataOption = None, database: DatabaseOption = None) -> None:
    """Bring the database schema up to date."""
    settings = _settings(data, database)
    engine = create_db_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    out.print("Database schema is current.")


@app.command()
def serve(
    data: DataOption = None,
    database: DatabaseOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs); initialises the data directory on first run."""
    import uvicorn

    from haechi.api import create_app

    settings = _settings(data, database)
    if not (settings.data_dir / SETTINGS_FILE).is_file():
        password = initialise(settings, database=database)
        out.print(f"Initialised [bold]{settings.data_dir}[/bold] with the demo policy.")
        _print_password(password)
        settings = _settings(data, database)
    engine = Engine.open(settings)
    bind_host = host or settings.server.host
    bind_port = port or settings.server.port
    schedule = SweepSchedule(engine.sweep, interval=settings.retention.sweep_interval_seconds)
    out.print(f"Serving on http://{bind_host}:{bind_port} (API docs at /docs)")
    if schedule.interval:
        out.print(f"Sweeping for due data every {schedule.interval} s.")
    schedule.start()
    try:
        uvicorn.run(create_app(engine=engine), host=bind_host, port=bind_port, log_level="info")
    finally:
        schedule.stop()
        engine.close()


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(help="Policy file to check.")],
) -> None:
    """Validate a policy file; print every problem with its location (exit 2 if any)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {file}: {type(exc).__name__}") from None
    problems = check_policy_text(text)
    if problems:
        for problem in problems:
            err.print(f"{file}: {problem.location}: {problem.message}", markup=False)
        err.print(f"{len(problems)} problem(s) found.", markup=False)
        raise typer.Exit(2)
    out.print(f"{file}: OK")


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="A name for the service using the token.")],
    purpose: Annotated[
        list[str], typer.Option("--purpose", "-p", help="Purpose the token may serve (repeat).")
    ],
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Create an API token limited to purposes; the secret is printed once."""
    engine = _open(data, database)
    try:
        info, secret = engine.create_token(name=name, purposes=purpose, created_by="cli")
    finally:
        engine.close()
    err.print(f"Token {info.name!r} for {', '.join(info.purposes)} (shown once):", markup=False)
    out.print(secret, markup=False)


@tokens_app.command("list")
def tokens_list(
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List API tokens (never their secrets)."""
    engine = _open(data, database)
    try:
        tokens = engine.tokens()
    finally:
        engine.close()
    if as_json:
        rows = [
            {
                "name": token.name,
                "purposes": token.purposes,
                "created_by": token.created_by,
                "created_at": token.created_at.isoformat(),
                "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
            }
            for token in tokens
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("name", "purposes", "created", "revoked")
    for token in tokens:
        table.add_row(
            token.name,
            ", ".join(token.purposes),
            token.created_at.strftime("%Y-%m-%d %H:%M"),
            token.revoked_at.strftime("%Y-%m-%d %H:%M") if token.revoked_at else "",
        )
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    name: Annotated[str, typer.Argument(help="Token to revoke.")],
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Revoke an API token; its very next call is refused."""
    engine = _open(data, database)
    try:
        engine.revoke_token(name)
    finally:
        engine.close()
    out.print(f"Token {name!r} revoked.", markup=False)


def _moment(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO 8601 time", field=field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@app.command()
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
    """Separate data under legal holds and destroy what is due, with certificates."""
    moment = _moment(now, "now")
    engine = _open(data, database)
    try:
        if as_json:
            report = engine.sweep(now=moment, dry_run=dry_run)
        else:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=err, transient=True) as bar:
                tasks: dict[str, Any] = {}

                def progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(stage, total=total)
                    bar.update(tasks[stage], completed=done)

                report = engine.sweep(now=moment, dry_run=dry_run, progress=progress)
    finally:
        engine.close()
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
    engine = _open(data, database)
    try:
        batches = engine.destruction_batches()
        overdue = engine.overdue()
        paper = engine.paper_records()
    finally:
        engine.close()
    batches.sort(key=lambda b: not b.awaiting_confirmation)
    if as_json:
        document = {
            "batches": [
                {
                    "id": b.id,
                    "created_at": b.created_at.isoformat(),
                    "created_by": b.created_by,
                    "destroyed": b.destroyed,
                    "awaiting_confirmation": b.awaiting_confirmation,
                    "confirmed_by": b.confirmed_by,
                    "confirmed_at": _iso(b.confirmed_at),
                }
                for b in batches
            ],
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
    table = Table("batch", "created", "destroyed", "confirmed", title="Destruction batches")
    for b in batches:
        table.add_row(
            b.id,
            b.created_at.strftime("%Y-%m-%d %H:%M"),
            str(b.destroyed),
            f"{b.confirmed_by} {b.confirmed_at:%Y-%m-%d}" if b.confirmed_at else "awaiting",
        )
    out.print(table)
    if overdue:
        err.print(f"{len(overdue)} collection(s) overdue for destruction:", markup=False)
        for collection_id in overdue:
            err.print(f"  {collection_id}", markup=False)


@destruction_app.command("confirm")
def destruction_confirm(
    batch: Annotated[str, typer.Argument(help="The batch id printed by `haechi sweep`.")],
    by: Annotated[str, typer.Option("--by", help="The confirming privacy officer.")],
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Record the privacy officer's confirmation on a batch's certificates."""
    engine = _open(data, database)
    try:
        confirmed = engine.confirm_destruction(batch, by=by)
    finally:
        engine.close()
    out.print(
        f"Batch {confirmed.id} ({confirmed.destroyed} collections) confirmed by {by}.",
        markup=False,
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
    engine = _open(data, database)
    try:
        record = engine.record_paper(
            description=what, method=method, destroyed_by=by, witness=witness, destroyed_at=moment
        )
    finally:
        engine.close()
    out.print(f"Paper destruction {record.id} recorded ({record.method.value}).", markup=False)


def main() -> None:
    """Entry point: run the app, turning Haechi errors into exit code 2."""
    try:
        # Outside standalone mode, click returns the code of a typer.Exit.
        code = app(standalone_mode=False)
    except HaechiError as exc:
        if isinstance(exc, PolicyInvalid):
            for problem in exc.problems:
                err.print(f"error: {problem}", markup=False)
        else:
            err.print(f"error: {exc.message}", markup=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("Aborted.")
        sys.exit(1)
    except Exception as exc:
        # Click's own usage errors (ClickException) carry their exit code.
        from click.exceptions import ClickException

        if isinstance(exc, ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
