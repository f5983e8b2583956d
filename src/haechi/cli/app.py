"""The ``haechi`` command: thin Typer commands over :class:`haechi.Engine`.

Every Haechi error ends the command with exit code 2 and a one-line message on
stderr; no traceback reaches the terminal.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import tomli_w
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from haechi.access.staff import NewCredentials, Role
from haechi.audit.signing import create_signing_key_file
from haechi.cli import policy as policy_commands
from haechi.cli.audit import alerts_app, audit_app
from haechi.cli.common import (
    DEFAULT_DATA,
    DatabaseOption,
    DataOption,
    load_settings,
    opened,
    require_initialised,
)
from haechi.cli.complaints import complaints_app
from haechi.cli.incidents import incidents_app
from haechi.cli.keys import keys_app
from haechi.cli.optout import optout_app
from haechi.cli.report import report_app
from haechi.cli.requests import requests_app
from haechi.cli.retention import destruction_app, sweep
from haechi.cli.scan import scan
from haechi.cli.staff import operator, staff_app
from haechi.cli.training import training_app
from haechi.config import SETTINGS_FILE, Settings
from haechi.crypto.keys import create_master_key_file
from haechi.engine import Engine
from haechi.errors import ConfigurationError, HaechiError, PolicyInvalid
from haechi.policy import check_policy_text, demo_policy_text
from haechi.storage.database import create_db_engine
from haechi.storage.migrate import upgrade
from haechi.storage.space import out_of_space

__all__ = ["FIRST_RUN_SECRETS", "app", "main"]

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
for _name in ("render", "publish", "versions", "diff", "notify"):
    policy_app.command(_name)(getattr(policy_commands, _name))
app.add_typer(tokens_app, name="tokens")
app.command("scan")(scan)
app.add_typer(audit_app, name="audit")
app.add_typer(alerts_app, name="alerts")
app.add_typer(staff_app, name="staff")
app.command("sweep")(sweep)
app.add_typer(destruction_app, name="destruction")
app.add_typer(keys_app, name="keys")
app.add_typer(requests_app, name="requests")
app.add_typer(complaints_app, name="complaints")
app.add_typer(optout_app, name="optout")
app.add_typer(report_app, name="report")
app.add_typer(incidents_app, name="incidents")
staff_app.add_typer(training_app, name="training")

out = Console()
err = Console(stderr=True)

#: the file ``haechi init`` (or a first ``haechi serve``) leaves the officer's credentials in
FIRST_RUN_SECRETS = "first-run-secrets.txt"


def initialise(settings: Settings, *, database: str | None) -> Path:
    """Create a data directory; return the 0600 file with the first officer's credentials."""
    data_dir = settings.data_dir
    if (data_dir / SETTINGS_FILE).exists():
        raise ConfigurationError(f"{data_dir} is already initialised")
    secrets_path = data_dir / FIRST_RUN_SECRETS
    if secrets_path.exists():
        raise ConfigurationError(f"{secrets_path} is left from an earlier run; remove it first")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
    except OSError as exc:
        raise ConfigurationError(f"cannot create the directory {data_dir}: {_why(exc)}") from None
    file_settings: dict[str, Any] = {"database": {"url": database}} if database else {}
    file_settings.setdefault("server", {"host": "127.0.0.1", "port": 8000})
    policy_path = data_dir / "policy.toml"
    if not policy_path.exists():
        # Whole or not at all: a policy cut short by a full disk would stop the next run.
        partial = data_dir / f".policy.toml.{os.getpid()}.tmp"
        try:
            partial.write_text(demo_policy_text(), encoding="utf-8")
            os.replace(partial, policy_path)
        finally:
            partial.unlink(missing_ok=True)
    key_path = data_dir / "master.key"
    if not key_path.exists():
        create_master_key_file(key_path)
    signing_path = data_dir / "signing.key"
    if not signing_path.exists():
        create_signing_key_file(signing_path)
    # The settings may name a database URL with its password: owner-only, like the keys.
    with _private_file(data_dir / SETTINGS_FILE) as handle:
        handle.write(b"# Haechi settings; HAECHI__SECTION__FIELD variables override them.\n")
        tomli_w.dump(file_settings, handle)
    try:
        credentials = _first_officer(Settings.load(data_dir))
        _write_first_run_secrets(secrets_path, credentials)
    except BaseException:
        # Not initialised (a full disk, the database down): the next run starts again
        # over the files already written, instead of refusing an initialised directory.
        (data_dir / SETTINGS_FILE).unlink(missing_ok=True)
        raise
    return secrets_path


def _first_officer(settings: Settings) -> NewCredentials:
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


@contextmanager
def _private_file(path: Path) -> Iterator[BinaryIO]:
    """A new file only its owner can read (mode 0600 from creation); never overwrites."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
    except BaseException:
        path.unlink(missing_ok=True)  # cut short (a full disk): not left half-written
        raise


def _write_first_run_secrets(path: Path, credentials: NewCredentials) -> None:
    """Put the first officer's one-time password and TOTP enrolment in a 0600 file.

    Not on the terminal: ``haechi serve`` usually runs under systemd or docker, whose
    journals keep what it prints for anyone who may read the logs.
    """
    lines = [
        "# Haechi: the first privacy officer's credentials, written once.",
        "# Log in, change the password, enrol the TOTP secret, then delete this file.",
        f"username: {credentials.username}",
        f"one-time password: {credentials.password}",
    ]
    if credentials.totp_uri:
        lines.append(f"totp enrolment: {credentials.totp_uri}")
    with _private_file(path) as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))


def _print_first_run(secrets_path: Path) -> None:
    out.print(
        f"The privacy officer account [bold]officer[/bold] was created; its one-time "
        f"password and TOTP enrolment are in [bold]{secrets_path}[/bold] (mode 0600). "
        "Read that file, change the password at first login, then delete it.",
        soft_wrap=True,
    )


@app.command()
def init(
    data_dir: Annotated[Path, typer.Argument(help="Directory to create.")] = DEFAULT_DATA,
    database: DatabaseOption = None,
) -> None:
    """Create a data directory: settings, demo policy, master key, database, first officer."""
    settings = load_settings(data_dir, database)
    secrets_path = initialise(settings, database=database)
    out.print(
        f"Initialised [bold]{data_dir}[/bold] "
        f"(policy.toml, master.key, signing.key, {SETTINGS_FILE})."
    )
    _print_first_run(secrets_path)


@app.command()
def migrate(data: DataOption = None, database: DatabaseOption = None) -> None:
    """Bring the database schema up to date."""
    settings = require_initialised(load_settings(data, database))
    engine = create_db_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    out.print("Database schema is current.")


#: Connections the kernel queues before the server accepts them (uvicorn's own default).
LISTEN_BACKLOG = 2048


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or one line saying why not (a busy port…)."""
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"--port must be between 1 and 65535, not {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise ConfigurationError(f"cannot listen on {host!r}: {_why(exc)}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        # Listening from here on: a client that connects while the application starts
        # waits in the backlog instead of being refused (uvicorn listens only after its
        # startup, and the workers of --workers after theirs).
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {_why(exc)}") from None
    return sock


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


@app.command()
def serve(
    data: DataOption = None,
    database: DatabaseOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Server processes sharing the port (default server.workers, 1)."),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs); initialises the data directory on first run."""
    from haechi.cli.serving import serve_on

    settings = load_settings(data, database)
    server = settings.server
    count = server.workers if workers is None else workers
    if not 1 <= count <= 64:
        raise ConfigurationError(f"--workers must be between 1 and 64, not {count}")
    sock = _listening_socket(host or server.host, server.port if port is None else port)
    try:
        if not (settings.data_dir / SETTINGS_FILE).is_file():
            secrets_path = initialise(settings, database=database)
            out.print(f"Initialised [bold]{settings.data_dir}[/bold] with the demo policy.")
            _print_first_run(secrets_path)
            settings = load_settings(data, database)
        engine = Engine.open(settings, serving=True)
        bind_host, bind_port = sock.getsockname()[:2]
        processes = f", {count} worker processes" if count > 1 else ""
        out.print(f"Serving on http://{bind_host}:{bind_port} (API docs at /docs{processes})")
        try:
            serve_on(sock, engine, workers=count)
        finally:
            engine.close()
    finally:
        sock.close()


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
            err.print(f"error: {exc.message}", markup=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("Aborted.")
        sys.exit(1)
    except (DBAPIError, OSError) as exc:
        if out_of_space(exc):
            err.print(
                "error: no space left for the database or the data directory; nothing "
                "was stored: free space and run the command again",
                markup=False,
                soft_wrap=True,
            )
            sys.exit(2)
        if isinstance(exc, OSError):
            raise
        # The driver's text may quote the statement's values: its class only.
        err.print(
            f"error: the database failed ({type(exc.orig).__name__}): check that it is "
            "reachable and that the URL names a Haechi database",
            markup=False,
            soft_wrap=True,
        )
        sys.exit(2)
    except Exception as exc:
        # Click's own usage errors (ClickException) carry their exit code. Typer ≥ 0.25
        # vendors its own copy of click, so the class is matched by name.
        if any(cls.__name__ == "ClickException" for cls in type(exc).__mro__):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
    sys.exit(code if isinstance(code, int) else 0)
