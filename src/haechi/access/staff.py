"""Staff accounts: one per person, with a role, a password and a TOTP secret.

Roles are in :mod:`haechi.access.roles`; purpose grants and the append-only grant
history in :mod:`haechi.access.grants` (both re-exported here). Every change to an
account is an audit event, and every change of access a history row as well.
Services never commit: the caller owns the transaction, so a change, its history row
and its event commit together.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from haechi.access.decision import Actor
from haechi.access.grants import (
    GrantChange,
    active_account,
    change_grants,
    check_purposes,
    grant_history,
    grant_purposes,
    held_purposes,
    record_change,
    required_reason,
    revoke_purposes,
    staff_event,
)
from haechi.access.passwords import Passwords, one_time_password
from haechi.access.roles import Role, require_role
from haechi.access.totp import TotpBox, new_totp_secret
from haechi.errors import Conflict, InvalidInput
from haechi.storage.tables import staff, staff_grants, staff_sessions

__all__ = [
    "GrantChange",
    "NewCredentials",
    "Role",
    "StaffInfo",
    "create_staff",
    "disable_staff",
    "end_sessions",
    "grant_history",
    "grant_purposes",
    "list_staff",
    "require_role",
    "reset_password",
    "revoke_purposes",
    "set_role",
    "staff_row",
    "unlock_staff",
]

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class StaffInfo:
    """An account as listed: never its password hash or TOTP secret."""

    id: str
    username: str
    role: str
    purposes: list[str]
    must_change_password: bool
    locked: bool
    failed_logins: int
    totp_enrolled: bool
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None


@dataclass(frozen=True)
class NewCredentials:
    """A one-time password, and an enrolment URI when a TOTP secret was made; shown once."""

    username: str
    password: str
    totp_uri: str | None


def staff_row(connection: Connection, username: str) -> tuple[object, ...] | None:
    """The ``staff`` row of ``username``, or None."""
    return connection.execute(select(staff).where(staff.c.username == username)).first()


def create_staff(
    connection: Connection,
    *,
    username: str,
    role: Role,
    purposes: Iterable[str] = (),
    declared_purposes: set[str],
    passwords: Passwords,
    totp: TotpBox,
    by: Actor,
    reason: str,
    now: datetime,
) -> NewCredentials:
    """Create an account with a one-time password and a TOTP secret, both shown once."""
    if not _USERNAME.match(username):
        raise InvalidInput("a username is 1-100 letters, digits, '.', '_' or '-'", field="username")
    reason = required_reason(reason)
    wanted = check_purposes(purposes, declared_purposes)
    if wanted and role is not Role.HANDLER:
        raise InvalidInput("only handlers hold purpose grants", field="purposes")
    if staff_row(connection, username) is not None:
        raise Conflict("a staff account of that name exists", field="username")
    password = one_time_password()
    secret = new_totp_secret()
    staff_id = str(uuid.uuid4())
    try:
        # A savepoint: another transaction may create the same name between the check
        # above and this insert; the unique index decides, and the loser is a conflict.
        with connection.begin_nested():
            connection.execute(
                insert(staff).values(
                    id=staff_id,
                    username=username,
                    role=role.value,
                    password_hash=passwords.hash(password),
                    must_change_password=True,
                    created_at=now,
                    failed_logins=0,
                    totp_sealed=totp.seal(secret, staff_id=staff_id),
                )
            )
    except IntegrityError:
        raise Conflict("a staff account of that name exists", field="username") from None
    record_change(
        connection,
        staff_id=staff_id,
        username=username,
        change="create",
        action="staff_create",
        role=role.value,
        by=by,
        reason=reason,
        now=now,
        detail=role.value,
    )
    change_grants(connection, "grant", staff_id, username, wanted, by=by, reason=reason, now=now)
    return NewCredentials(username, password, totp.uri(secret, username=username))


def _revoke_all(
    connection: Connection, staff_id: str, username: str, *, by: Actor, reason: str, now: datetime
) -> None:
    change_grants(
        connection,
        "revoke",
        staff_id,
        username,
        held_purposes(connection, staff_id),
        by=by,
        reason=reason,
        now=now,
    )


def _officers_left(connection: Connection, *, besides: str) -> int:
    count = connection.execute(
        select(func.count())
        .select_from(staff)
        .where(
            staff.c.role == Role.PRIVACY_OFFICER.value,
            staff.c.disabled_at.is_(None),
            staff.c.id != besides,
        )
    ).scalar_one()
    return int(count)


def set_role(
    connection: Connection, *, username: str, role: Role, by: Actor, reason: str, now: datetime
) -> None:
    """Change an account's role; a handler's grants are revoked when it stops being one."""
    reason = required_reason(reason)
    staff_id, current = active_account(connection, username)
    if current == role:
        raise Conflict(f"the account already has the role {role.value}", field="role")
    if current == Role.PRIVACY_OFFICER and not _officers_left(connection, besides=staff_id):
        raise Conflict("the last privacy officer keeps the role", field="role")
    _revoke_all(connection, staff_id, username, by=by, reason=reason, now=now)
    connection.execute(update(staff).where(staff.c.id == staff_id).values(role=role.value))
    record_change(
        connection,
        staff_id=staff_id,
        username=username,
        change="role",
        action="staff_role_change",
        role=role.value,
        by=by,
        reason=reason,
        now=now,
        detail=f"{current} -> {role.value}: {reason}",
    )


def disable_staff(
    connection: Connection, *, username: str, by: Actor, reason: str, now: datetime
) -> None:
    """Close an account: grants revoked, sessions ended, logins refused from now on."""
    reason = required_reason(reason)
    staff_id, role = active_account(connection, username)
    if role == Role.PRIVACY_OFFICER and not _officers_left(connection, besides=staff_id):
        raise Conflict("the last privacy officer cannot be disabled", field="username")
    _revoke_all(connection, staff_id, username, by=by, reason=reason, now=now)
    connection.execute(update(staff).where(staff.c.id == staff_id).values(disabled_at=now))
    end_sessions(connection, staff_id=staff_id, now=now)
    record_change(
        connection,
        staff_id=staff_id,
        username=username,
        change="disable",
        action="staff_revoke",
        by=by,
        reason=reason,
        now=now,
        detail=f"account disabled: {reason}",
    )


def end_sessions(connection: Connection, *, staff_id: str, now: datetime) -> None:
    """End every open session of one account."""
    connection.execute(
        update(staff_sessions)
        .where(staff_sessions.c.staff_id == staff_id, staff_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )


def unlock_staff(
    connection: Connection, *, username: str, by: Actor, reason: str, now: datetime
) -> None:
    """Lift a lockout after failed logins."""
    reason = required_reason(reason)
    staff_id, _ = active_account(connection, username)
    locked = connection.execute(
        select(staff.c.locked_at).where(staff.c.id == staff_id)
    ).scalar_one()
    if locked is None:
        raise Conflict("the account is not locked", field="username")
    connection.execute(
        update(staff).where(staff.c.id == staff_id).values(locked_at=None, failed_logins=0)
    )
    staff_event(connection, by=by, action="staff_unlock", username=username, detail=reason, now=now)


def reset_password(
    connection: Connection,
    *,
    username: str,
    passwords: Passwords,
    totp: TotpBox,
    new_totp: bool,
    by: Actor,
    reason: str,
    now: datetime,
) -> NewCredentials:
    """Give an account a new one-time password (and TOTP secret); end its sessions."""
    reason = required_reason(reason)
    staff_id, _ = active_account(connection, username)
    password = one_time_password()
    values: dict[str, object] = {
        "password_hash": passwords.hash(password),
        "must_change_password": True,
    }
    uri = None
    if new_totp:
        secret = new_totp_secret()
        values.update(totp_sealed=totp.seal(secret, staff_id=staff_id), totp_last_step=None)
        uri = totp.uri(secret, username=username)
    connection.execute(update(staff).where(staff.c.id == staff_id).values(**values))
    end_sessions(connection, staff_id=staff_id, now=now)
    detail = f"{reason} (new TOTP secret)" if new_totp else reason
    staff_event(
        connection,
        by=by,
        action="staff_password_reset",
        username=username,
        detail=detail,
        now=now,
    )
    return NewCredentials(username, password, uri)


def list_staff(connection: Connection) -> list[StaffInfo]:
    """Every account, by username, with its current grants."""
    grants: dict[str, list[str]] = {}
    for row in connection.execute(
        select(staff_grants.c.staff_id, staff_grants.c.purpose).order_by(staff_grants.c.purpose)
    ):
        grants.setdefault(row.staff_id, []).append(row.purpose)
    return [
        StaffInfo(
            id=row.id,
            username=row.username,
            role=row.role,
            purposes=grants.get(row.id, []),
            must_change_password=row.must_change_password,
            locked=row.locked_at is not None,
            failed_logins=row.failed_logins,
            totp_enrolled=row.totp_sealed is not None,
            created_at=row.created_at,
            last_login_at=row.last_login_at,
            disabled_at=row.disabled_at,
        )
        for row in connection.execute(select(staff).order_by(staff.c.username))
    ]
