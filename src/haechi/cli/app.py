"""The ``haechi`` command: thin Typer commands over :class:`haechi.Engine`.

Every Haechi error ends the command with exit code 2 and a one-line message on
stderr; no traceback reaches the terminal.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import tomli_w
import typer
from rich.console import Console
from rich.table import Table

from haechi.access.staff import NewCredentials, Role
from haechi.audit.signing import create_signing_key_file
from haechi.cli.audit import alerts_app, audit_app
from haechi.cli.common import (
    DEFAULT_DATA,
    DatabaseOption,
    DataOption,
    load_settings,
    opened,
)
from haechi.cli.policy import render as policy_render
from haechi.cli.retention import destruction_app, sweep
from haechi.cli.scan import scan
from haechi.cli.staff import operator, staff_app
from haechi.config import SETTINGS_FILE, Settings
from haechi.crypto.keys import create_master_key_file
from haechi.engine import Engine
from haechi.errors import ConfigurationError, HaechiError, PolicyInvalid
from haechi.policy import check_policy_text, demo_policy_text
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
app.add_typer(policy_app, name="policy")
policy_app.command("render")(policy_render)
app.add_typer(tokens_app, name="tokens")
app.command("scan")(scan)
app.add_typer(audit_app, name="audit")
app.add_typer(alerts_app, name="alerts")
app.add_typer(staff_app, name="staff")
app.command("sweep")(sweep)
app.add_typer(destruction_app, name="destruction")

out = Console()
err = Console(stderr=True)


def initialise(settings: Settings, *, database: str | None) -> NewCredentials:
    """Create a data directory; return the first privacy officer's one-time credentials."""
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
    signing_path = data_dir / "signing.key"
    if not signing_path.exists():
        create_signing_key_file(signing_path)
    with (data_dir / SETTINGS_FILE).open("wb") as handle:
        handle.write(b"# Haechi settings; HAECHI__SECTION__FIELD variables override them.\n")
        tomli_w.dump(file_settings, handle)
    settings = Settings.load(data_dir)
    database_engine = create_db_engine(settings.database_url)
    upgrade(database_engine)
    engine = Engine.open(settings)
    try:
        return engine.add_staff(
            username="officer",
            role=Role.PRIVACY_OFFICER,
            reason="first privacy officer (haechi init)",
            actor=operator(None),
        )
    finally:
        engine.close()
        database_engine.dispose()


def _print_password(credentials: NewCredentials) -> None:
    out.print(
        "Privacy officer account [bold]officer[/bold], one-time password "
        f"[bold]{credentials.password}[/bold] (shown once; change it at first login).",
        soft_wrap=True,
    )
    if credentials.totp_uri:
        out.print(
            f"TOTP enrolment (needed outside trusted networks): {credentials.totp_uri}",
            soft_wrap=True,
            markup=False,
        )


@app.command()
def init(
    data_dir: Annotated[Path, typer.Argument(help="Directory to create.")] = DEFAULT_DATA,
    database: DatabaseOption = None,
) -> None:
    """Create a data directory: settings, demo policy, master key, database, first officer."""
    settings = load_settings(data_dir, database)
    credentials = initialise(settings, database=database)
    out.print(
        f"Initialised [bold]{data_dir}[/bold] "
        f"(policy.toml, master.key, signing.key, {SETTINGS_FILE})."
    )
    _print_password(credentials)


@app.command()
def migrate(data: DataOption = None, database: DatabaseOption = None) -> None:
    """Bring the database schema up to date."""
    settings = load_settings(data, database)
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

    settings = load_settings(data, database)
    if not (settings.data_dir / SETTINGS_FILE).is_file():
        credentials = initialise(settings, database=database)
        out.print(f"Initialised [bold]{settings.data_dir}[/bold] with the demo policy.")
        _print_password(credentials)
        settings = load_settings(data, database)
    engine = Engine.open(settings)
    bind_host = host or settings.server.host
    bind_port = port or settings.server.port
    out.print(f"Serving on http://{bind_host}:{bind_port} (API docs at /docs)")
    try:
        uvicorn.run(
            create_app(engine=engine, jobs=True), host=bind_host, port=bind_port, log_level="info"
        )
    finally:
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
    with opened(data, database) as engine:
        info, secret = engine.create_token(name=name, purposes=purpose, created_by="cli")
    err.print(f"Token {info.name!r} for {', '.join(info.purposes)} (shown once):", markup=False)
    out.print(secret, markup=False)


@tokens_app.command("list")
def tokens_list(
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List API tokens (never their secrets)."""
    with opened(data, database) as engine:
        tokens = engine.tokens()
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
    with opened(data, database) as engine:
        engine.revoke_token(name)
    out.print(f"Token {name!r} revoked.", markup=False)


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
        # Click's own usage errors (ClickException) carry their exit code. Typer ≥ 0.25
        # vendors its own copy of click, so the class is matched by name.
        if any(cls.__name__ == "ClickException" for cls in type(exc).__mro__):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
    sys.exit(code if isinstance(code, int) else 0)
