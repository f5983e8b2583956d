"""Staff accounts, roles and purpose grants, with an append-only grant history.

One account per person. Roles:

- ``privacy_officer``: serves every purpose; the only role that creates accounts,
  grants purposes, changes roles, unlocks and resets passwords.
- ``handler``: serves exactly the purposes granted to it.
- ``auditor``: reads logs, reports, accounts and grant history; no personal data.
- ``admin``: runs the system (settings, keys, tokens); reads accounts and grant history
  and may *revoke* access (a leaver's account, a grant), but never grants it and never
  reads personal data: an admin cannot widen anyone's access, its own included.

Every issue, change and revocation of access appends a row to ``staff_grant_history``
(who, when, why), which the database refuses to update or delete: it is kept well
beyond the three years the Standards ask (Art. 5(4)); nothing in Haechi prunes it.
Each change is also an audit event. Services never commit: the caller owns the
transaction, so a change, its history row and its event commit together.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, delete, func, insert, select, update

from haechi.access.decision import Actor
from haechi.access.passwords import Passwords, one_time_password
from haechi.access.totp import TotpBox, new_totp_secret
from haechi.audit.events import record_event
from haechi.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from haechi.storage.tables import staff, staff_grant_history, staff_grants, staff_sessions

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


class Role(StrEnum):
    """What a staff member may do."""

    PRIVACY_OFFICER = "privacy_officer"
    HANDLER = "handler"
    AUDITOR = "auditor"
    ADMIN = "admin"


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
class GrantChange:
    """One row of the grant history: who changed whose access, when and why."""

    id: int
    occurred_at: datetime
    username: str
    change: str
    purpose: str | None
    role: str | None
    changed_by: str
    reason: str


@dataclass(frozen=True)
class NewCredentials:
    """A one-time password, and an enrolment URI when a TOTP secret was made; shown once."""

    username: str
    password: str
    totp_uri: str | None


def require_role(actor: Actor, *roles: Role) -> None:
    """Refuse ``actor`` unless it holds one of ``roles`` (the system holds them all)."""
    if actor.kind == "system" or actor.role in roles:
        return
    names = " or ".join(role.value for role in roles)
    raise PermissionDenied(f"this needs the role {names}", code="ROLE_REQUIRED")


def staff_row(connection: Connection, username: str) -> tuple[object, ...] | None:
    """The ``staff`` row of ``username``, or None."""
    return connection.execute(select(staff).where(staff.c.username == username)).first()


def _account(connection: Connection, username: str) -> tuple[str, str, datetime | None]:
    row = connection.execute(
        select(staff.c.id, staff.c.role, staff.c.disabled_at).where(staff.c.username == username)
    ).first()
    if row is None:
        raise NotFound(f"no staff account named {username!r}", field="username")
    return row.id, row.role, row.disabled_at


def _active(connection: Connection, username: str) -> tuple[str, str]:
    staff_id, role, disabled_at = _account(connection, username)
    if disabled_at is not None:
        raise Conflict(f"the account {username!r} is disabled", field="username")
    return staff_id, role


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("say why: a reason is required", field="reason")
    return reason[:400]


def _history(
    connection: Connection,
    *,
    staff_id: str,
    username: str,
    change: str,
    action: str,
    by: Actor,
    reason: str,
    now: datetime,
    purpose: str | None = None,
    role: str | None = None,
    detail: str | None = None,
) -> None:
    """Append a change to the grant history, and its audit event (``detail`` or the reason)."""
    connection.execute(
        insert(staff_grant_history).values(
            occurred_at=now,
            staff_id=staff_id,
            username=username,
            change=change,
            purpose=purpose,
            role=role,
            changed_by=by.name,
            reason=reason,
        )
    )
    _event(
        connection,
        by=by,
        action=action,
        username=username,
        detail=reason if detail is None else detail,
        purpose=purpose,
        now=now,
    )


def _event(
    connection: Connection,
    *,
    by: Actor,
    action: str,
    username: str,
    detail: str,
    now: datetime,
    purpose: str | None = None,
) -> None:
    record_event(
        connection,
        now=now,
        actor=by.name,
        actor_kind=by.kind,
        action=action,
        purpose=purpose,
        reason=f"staff {username}: {detail}"[:500],
        source_ip=by.source_ip,
    )


def _check_purposes(purposes: Iterable[str], declared: set[str]) -> list[str]:
    wanted = sorted(set(purposes))
    unknown = [purpose for purpose in wanted if purpose not in declared]
    if unknown:
        raise InvalidInput(
            f"purposes not declared in the policy: {', '.join(unknown)}", field="purposes"
        )
    return wanted


def _held(connection: Connection, staff_id: str) -> list[str]:
    rows = connection.execute(
        select(staff_grants.c.purpose)
        .where(staff_grants.c.staff_id == staff_id)
        .order_by(staff_grants.c.purpose)
    )
    return [row.purpose for row in rows]


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
    reason = _reason(reason)
    wanted = _check_purposes(purposes, declared_purposes)
    if wanted and role is not Role.HANDLER:
        raise InvalidInput("only handlers hold purpose grants", field="purposes")
    if staff_row(connection, username) is not None:
        raise Conflict(f"a staff account named {username!r} exists", field="username")
    password = one_time_password()
    secret = new_totp_secret()
    staff_id = str(uuid.uuid4())
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
    _history(
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
    _add_grants(connection, staff_id, username, wanted, by=by, reason=reason, now=now)
    return NewCredentials(username, password, totp.uri(secret, username=username))


def _add_grants(
    connection: Connection,
    staff_id: str,
    username: str,
    purposes: list[str],
    *,
    by: Actor,
    reason: str,
    now: datetime,
) -> None:
    for purpose in purposes:
        connection.execute(
            insert(staff_grants).values(
                staff_id=staff_id, purpose=purpose, granted_by=by.name, granted_at=now
            )
        )
        _history(
            connection,
            staff_id=staff_id,
            username=username,
            change="grant",
            action="staff_grant",
            purpose=purpose,
            by=by,
            reason=reason,
            now=now,
        )


def _drop_grants(
    connection: Connection,
    staff_id: str,
    username: str,
    purposes: list[str],
    *,
    by: Actor,
    reason: str,
    now: datetime,
) -> None:
    for purpose in purposes:
        connection.execute(
            delete(staff_grants).where(
                staff_grants.c.staff_id == staff_id, staff_grants.c.purpose == purpose
            )
        )
        _history(
            connection,
            staff_id=staff_id,
            username=username,
            change="revoke",
            action="staff_revoke",
            purpose=purpose,
            by=by,
            reason=reason,
            now=now,
        )


def grant_purposes(
    connection: Connection,
    *,
    username: str,
    purposes: Iterable[str],
    declared_purposes: set[str],
    by: Actor,
    reason: str,
    now: datetime,
) -> list[str]:
    """Grant a handler ``purposes``; return those newly granted (held ones are skipped)."""
    reason = _reason(reason)
    wanted = _check_purposes(purposes, declared_purposes)
    if not wanted:
        raise InvalidInput("name at least one purpose to grant", field="purposes")
    staff_id, role = _active(connection, username)
    if role != Role.HANDLER:
        raise Conflict(
            f"only handlers hold purpose grants ({username!r} is {role})", field="purposes"
        )
    new = [purpose for purpose in wanted if purpose not in _held(connection, staff_id)]
    _add_grants(connection, staff_id, username, new, by=by, reason=reason, now=now)
    return new


def revoke_purposes(
    connection: Connection,
    *,
    username: str,
    purposes: Iterable[str],
    by: Actor,
    reason: str,
    now: datetime,
) -> None:
    """Revoke grants; the account's very next call is decided without them."""
    reason = _reason(reason)
    wanted = sorted(set(purposes))
    if not wanted:
        raise InvalidInput("name at least one purpose to revoke", field="purposes")
    staff_id, _, _ = _account(connection, username)
    held = _held(connection, staff_id)
    missing = [purpose for purpose in wanted if purpose not in held]
    if missing:
        raise NotFound(f"{username!r} holds no grant for {', '.join(missing)}", field="purposes")
    _drop_grants(connection, staff_id, username, wanted, by=by, reason=reason, now=now)


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
    reason = _reason(reason)
    staff_id, current = _active(connection, username)
    if current == role:
        raise Conflict(f"{username!r} already has the role {role.value}", field="role")
    if current == Role.PRIVACY_OFFICER and not _officers_left(connection, besides=staff_id):
        raise Conflict("the last privacy officer keeps the role", field="role")
    held = _held(connection, staff_id)
    _drop_grants(connection, staff_id, username, held, by=by, reason=reason, now=now)
    connection.execute(update(staff).where(staff.c.id == staff_id).values(role=role.value))
    _history(
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
    reason = _reason(reason)
    staff_id, role = _active(connection, username)
    if role == Role.PRIVACY_OFFICER and not _officers_left(connection, besides=staff_id):
        raise Conflict("the last privacy officer cannot be disabled", field="username")
    held = _held(connection, staff_id)
    _drop_grants(connection, staff_id, username, held, by=by, reason=reason, now=now)
    connection.execute(update(staff).where(staff.c.id == staff_id).values(disabled_at=now))
    end_sessions(connection, staff_id=staff_id, now=now)
    _history(
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
    reason = _reason(reason)
    staff_id, _ = _active(connection, username)
    locked = connection.execute(
        select(staff.c.locked_at).where(staff.c.id == staff_id)
    ).scalar_one()
    if locked is None:
        raise Conflict(f"the account {username!r} is not locked", field="username")
    connection.execute(
        update(staff).where(staff.c.id == staff_id).values(locked_at=None, failed_logins=0)
    )
    _event(connection, by=by, action="staff_unlock", username=username, detail=reason, now=now)


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
    reason = _reason(reason)
    staff_id, _ = _active(connection, username)
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
    _event(
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


def grant_history(
    connection: Connection, *, username: str | None = None, limit: int = 1000
) -> list[GrantChange]:
    """The newest ``limit`` rows of the grant history, oldest first, optionally for one account."""
    query = select(staff_grant_history).order_by(staff_grant_history.c.id.desc()).limit(limit)
    if username is not None:
        query = query.where(staff_grant_history.c.username == username)
    rows = list(connection.execute(query))
    rows.reverse()
    return [
        GrantChange(
            id=row.id,
            occurred_at=row.occurred_at,
            username=row.username,
            change=row.change,
            purpose=row.purpose,
            role=row.role,
            changed_by=row.changed_by,
            reason=row.reason,
        )
        for row in rows
    ]
