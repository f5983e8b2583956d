"""``haechi staff``: accounts, roles, purpose grants and their history."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from haechi.access.decision import Actor
from haechi.access.staff import NewCredentials, Role
from haechi.cli.common import (
    DatabaseOption,
    DataOption,
    opened,
)
from haechi.errors import InvalidInput

__all__ = ["operator", "staff_app"]

staff_app = typer.Typer(
    help=(
        "Staff accounts, roles and purpose grants. The CLI holds the data directory "
        "(master key included), so it acts with the privacy officer's authority; "
        "--by names who acts (default: the OS user)."
    ),
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)


def operator(by: str | None) -> Actor:
    """The local operator: acts as privacy officer, recorded as ``by`` or the OS user."""
    if not by:
        try:
            by = getpass.getuser()
        except (KeyError, OSError):  # no login name (e.g. a container's numeric user)
            by = "cli"
    return Actor(
        name=by[:100],
        kind="staff",
        purposes=frozenset(),
        role=Role.PRIVACY_OFFICER.value,
    )


ByOption = Annotated[
    str | None,
    typer.Option(
        "--by", help="Who acts, for the record (default: the OS user).", show_default=False
    ),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why, for the grant history.")]


def _print_credentials(credentials: NewCredentials) -> None:
    err.print(
        f"Account {credentials.username!r} (shown once; change at first login):", markup=False
    )
    out.print(f"one-time password: {credentials.password}", markup=False)
    if credentials.totp_uri:
        out.print(f"totp enrolment: {credentials.totp_uri}", markup=False, soft_wrap=True)


@staff_app.command("add")
def staff_add(
    username: Annotated[str, typer.Argument(help="One account per person.")],
    role: Annotated[
        str, typer.Option(help="privacy_officer, handler, auditor or admin.")
    ] = Role.HANDLER.value,
    purpose: Annotated[
        list[str] | None,
        typer.Option("--purpose", "-p", help="Purpose a handler may serve (repeat)."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the grant history.")] = "new account",
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Create an account; print its one-time password and TOTP enrolment URI once."""
    with opened(data, database) as engine:
        credentials = engine.add_staff(
            username=username, role=role, purposes=purpose, reason=reason, actor=operator(by)
        )
    _print_credentials(credentials)


@staff_app.command("list")
def staff_list(
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List accounts with their role, grants and state (never secrets)."""
    with opened(data, database) as engine:
        accounts = engine.staff(actor=operator(None))
    if as_json:
        rows = [
            {
                "username": account.username,
                "role": account.role,
                "purposes": account.purposes,
                "locked": account.locked,
                "failed_logins": account.failed_logins,
                "must_change_password": account.must_change_password,
                "totp_enrolled": account.totp_enrolled,
                "created_at": account.created_at.isoformat(),
                "last_login_at": _iso(account.last_login_at),
                "disabled_at": _iso(account.disabled_at),
            }
            for account in accounts
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("username", "role", "purposes", "state", "last login")
    for account in accounts:
        state = "disabled" if account.disabled_at else "locked" if account.locked else "active"
        table.add_row(
            account.username,
            account.role,
            ", ".join(account.purposes),
            state,
            account.last_login_at.strftime("%Y-%m-%d %H:%M") if account.last_login_at else "",
        )
    out.print(table)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@staff_app.command("grant")
def staff_grant(
    username: Annotated[str, typer.Argument(help="Account to change.")],
    reason: ReasonOption,
    purpose: Annotated[
        list[str] | None,
        typer.Option("--purpose", "-p", help="Purpose to grant a handler (repeat)."),
    ] = None,
    role: Annotated[str | None, typer.Option(help="New role instead of purposes.")] = None,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Grant a handler purposes, or change an account's role (--role)."""
    if bool(purpose) == bool(role):
        raise InvalidInput("give --purpose (repeatable) or --role, not both", field="purpose")
    with opened(data, database) as engine:
        if role:
            engine.change_staff_role(username, role=role, reason=reason, actor=operator(by))
            message = f"{username!r} is now {role}."
        else:
            granted = engine.grant_staff(
                username, purposes=purpose or [], reason=reason, actor=operator(by)
            )
            message = f"Granted {username!r}: {', '.join(granted) or 'nothing new'}."
    out.print(message, markup=False)


@staff_app.command("revoke")
def staff_revoke(
    username: Annotated[str, typer.Argument(help="Account to change.")],
    reason: ReasonOption,
    purpose: Annotated[
        list[str] | None, typer.Option("--purpose", "-p", help="Purpose to revoke (repeat).")
    ] = None,
    account: Annotated[
        bool, typer.Option("--account", help="Close the whole account (a leaver).")
    ] = False,
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Revoke grants, or close an account; effective on its very next call."""
    if bool(purpose) == account:
        raise InvalidInput("give --purpose (repeatable) or --account, not both", field="purpose")
    with opened(data, database) as engine:
        if account:
            engine.disable_staff(username, reason=reason, actor=operator(by))
        else:
            engine.revoke_staff(username, purposes=purpose or [], reason=reason, actor=operator(by))
    out.print(f"Revoked ({'account' if account else ', '.join(purpose or [])}).", markup=False)


@staff_app.command("unlock")
def staff_unlock(
    username: Annotated[str, typer.Argument(help="Locked account.")],
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "unlocked",
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Lift the lockout that failed logins put on an account."""
    with opened(data, database) as engine:
        engine.unlock_staff(username, reason=reason, actor=operator(by))
    out.print(f"{username!r} unlocked.", markup=False)


@staff_app.command("reset-password")
def staff_reset_password(
    username: Annotated[str, typer.Argument(help="Account to reset.")],
    new_totp: Annotated[
        bool, typer.Option("--new-totp", help="Also issue a new TOTP secret (lost device).")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "password reset",
    by: ByOption = None,
    data: DataOption = None,
    database: DatabaseOption = None,
) -> None:
    """Print a new one-time password (shown once); the account's sessions end."""
    with opened(data, database) as engine:
        credentials = engine.reset_staff_password(
            username, new_totp=new_totp, reason=reason, actor=operator(by)
        )
    _print_credentials(credentials)


@staff_app.command("history")
def staff_history(
    username: Annotated[str | None, typer.Argument(help="One account (default: all).")] = None,
    data: DataOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The append-only history of grants, role changes and revocations (kept ≥ 3 years)."""
    with opened(data, database) as engine:
        changes = engine.grant_history(username=username, actor=operator(None))
    if as_json:
        rows = [
            {
                "occurred_at": change.occurred_at.isoformat(),
                "username": change.username,
                "change": change.change,
                "purpose": change.purpose,
                "role": change.role,
                "changed_by": change.changed_by,
                "reason": change.reason,
            }
            for change in changes
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("when", "account", "change", "purpose / role", "by", "why")
    for change in changes:
        table.add_row(
            change.occurred_at.strftime("%Y-%m-%d %H:%M"),
            change.username,
            change.change,
            change.purpose or change.role or "",
            change.changed_by,
            change.reason,
        )
    out.print(table)
