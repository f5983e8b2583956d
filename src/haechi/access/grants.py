"""Purpose grants of handlers, and the append-only grant history of every account.

Every issue, change and revocation of access appends a row to ``staff_grant_history``
(who, when, why), which the database refuses to update or delete: it is kept well
beyond the three years the Standards ask (Art. 5(4)); nothing in Haechi prunes it.
Each change is also an audit event (:func:`record_change`). Services never commit: the
caller owns the transaction, so a change, its history row and its event commit together.

The account lookups shared with :mod:`haechi.access.staff` live here too, so that the
accounts module can build on this one without a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, delete, insert, select

from haechi.access.decision import Actor
from haechi.access.roles import Role
from haechi.audit.events import record_event
from haechi.errors import Conflict, InvalidInput, NotFound
from haechi.storage.tables import staff, staff_grant_history, staff_grants

__all__ = [
    "GrantChange",
    "account",
    "active_account",
    "change_grants",
    "check_purposes",
    "grant_history",
    "grant_purposes",
    "held_purposes",
    "record_change",
    "required_reason",
    "revoke_purposes",
    "staff_event",
]


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


def account(connection: Connection, username: str) -> tuple[str, str, datetime | None]:
    """The id, role and disabling time of ``username``, its row locked; refuse an unknown name.

    Every caller changes the account: the lock (``FOR UPDATE``; SQLite writes one at a
    time anyway) makes two changes of one account run one after the other, so two
    grants of one purpose never both insert it.
    """
    row = connection.execute(
        select(staff.c.id, staff.c.role, staff.c.disabled_at)
        .where(staff.c.username == username)
        .with_for_update()
    ).first()
    if row is None:
        # The name asked for is the caller's text (a password typed in the wrong field…).
        raise NotFound("no staff account by that name", field="username")
    return row.id, row.role, row.disabled_at


def active_account(connection: Connection, username: str) -> tuple[str, str]:
    """The id and role of ``username``; refuse an unknown or disabled account."""
    staff_id, role, disabled_at = account(connection, username)
    if disabled_at is not None:
        raise Conflict("the account is disabled", field="username")
    return staff_id, role


def required_reason(reason: str) -> str:
    """``reason`` stripped and cut to 400 characters; refuse an empty one."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("say why: a reason is required", field="reason")
    return reason[:400]


def record_change(
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
    staff_event(
        connection,
        by=by,
        action=action,
        username=username,
        detail=reason if detail is None else detail,
        purpose=purpose,
        now=now,
    )


def staff_event(
    connection: Connection,
    *,
    by: Actor,
    action: str,
    username: str,
    detail: str,
    now: datetime,
    purpose: str | None = None,
) -> None:
    """The audit event of a change to one account."""
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


def check_purposes(purposes: Iterable[str], declared: set[str]) -> list[str]:
    """``purposes`` sorted, without repeats; refuse any the policy does not declare."""
    wanted = sorted(set(purposes))
    unknown = [purpose for purpose in wanted if purpose not in declared]
    if unknown:
        # Never echoed: an undeclared name is the caller's text.
        raise InvalidInput(
            f"{len(unknown)} purpose(s) not declared in the policy", field="purposes"
        )
    return wanted


def held_purposes(connection: Connection, staff_id: str) -> list[str]:
    """The purposes one account holds grants for, sorted."""
    rows = connection.execute(
        select(staff_grants.c.purpose)
        .where(staff_grants.c.staff_id == staff_id)
        .order_by(staff_grants.c.purpose)
    )
    return [row.purpose for row in rows]


def change_grants(
    connection: Connection,
    change: Literal["grant", "revoke"],
    staff_id: str,
    username: str,
    purposes: list[str],
    *,
    by: Actor,
    reason: str,
    now: datetime,
) -> None:
    """Add or drop one account's grants, each with its history row and audit event."""
    for purpose in purposes:
        if change == "grant":
            connection.execute(
                insert(staff_grants).values(
                    staff_id=staff_id, purpose=purpose, granted_by=by.name, granted_at=now
                )
            )
        else:
            connection.execute(
                delete(staff_grants).where(
                    staff_grants.c.staff_id == staff_id, staff_grants.c.purpose == purpose
                )
            )
        record_change(
            connection,
            staff_id=staff_id,
            username=username,
            change=change,
            action=f"staff_{change}",
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
    reason = required_reason(reason)
    wanted = check_purposes(purposes, declared_purposes)
    if not wanted:
        raise InvalidInput("name at least one purpose to grant", field="purposes")
    staff_id, role = active_account(connection, username)
    if role != Role.HANDLER:
        raise Conflict(
            f"only handlers hold purpose grants (the account is {role})", field="purposes"
        )
    held = held_purposes(connection, staff_id)
    new = [purpose for purpose in wanted if purpose not in held]
    change_grants(connection, "grant", staff_id, username, new, by=by, reason=reason, now=now)
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
    reason = required_reason(reason)
    wanted = sorted(set(purposes))
    if not wanted:
        raise InvalidInput("name at least one purpose to revoke", field="purposes")
    staff_id, _, _ = account(connection, username)
    held = held_purposes(connection, staff_id)
    missing = [purpose for purpose in wanted if purpose not in held]
    if missing:
        # The purposes asked for are the caller's text: counted, not repeated.
        raise NotFound(
            f"the account holds no grant for {len(missing)} of the purposes named",
            field="purposes",
        )
    change_grants(connection, "revoke", staff_id, username, wanted, by=by, reason=reason, now=now)


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
