"""Staff logins and sessions: lockout, the TOTP second factor, the idle timeout.

A login checks, in order: the account exists and is open, it is not locked, the
password (Argon2id), and, from outside the trusted networks, a TOTP code. Each failed
password or code counts; the threshold of the settings locks the account until the
privacy officer unlocks it. Every attempt, allowed or denied, is a ``login`` audit event.

A session is a bearer secret (``hcs_…``) stored as its SHA-256. Each call resolves the
actor afresh from the account's role and grants, so a revocation bites on the very
next call; a session idle longer than the settings allow ends (``session_expired``).

Functions that refuse return the refusal instead of raising it, so that the caller
can commit what the refusal recorded (a failure count, an audit event) and then raise.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from haechi.access.decision import Actor
from haechi.access.passwords import Passwords
from haechi.access.staff import Role
from haechi.access.tokens import secret_digest as _hash
from haechi.access.totp import TotpBox, from_trusted_network, matching_step
from haechi.audit.events import record_event
from haechi.config import AuthSettings
from haechi.errors import InvalidInput, PermissionDenied
from haechi.storage.tables import staff, staff_grants, staff_sessions

__all__ = [
    "SESSION_PREFIX",
    "UNKNOWN_ACCOUNT",
    "LoginResult",
    "SessionResult",
    "authenticate_session",
    "change_password",
    "login",
    "logout",
    "staff_actor",
]

SESSION_PREFIX = "hcs_"
# The actor of a login to no account: the typed name is never logged nor echoed.
UNKNOWN_ACCOUNT = "<unknown>"
_BAD_CREDENTIALS = "wrong username or password"
_BAD_CREDENTIALS_REMOTE = "wrong username, password or TOTP code"
_TOTP_REQUIRED = "a TOTP code is required from outside the trusted networks"


@dataclass(frozen=True)
class LoginResult:
    """A session secret (shown once), or the refusal to raise after committing."""

    secret: str | None
    must_change_password: bool
    error: PermissionDenied | None


@dataclass(frozen=True)
class SessionResult:
    """The actor of a session, or the refusal to raise after committing."""

    actor: Actor | None
    error: PermissionDenied | None


def staff_actor(connection: Connection, *, staff_id: str, username: str, role: str) -> Actor:
    """The actor of an account as it stands now: its role and current grants."""
    purposes: frozenset[str] = frozenset()
    if role == Role.HANDLER:
        purposes = frozenset(
            connection.execute(
                select(staff_grants.c.purpose).where(staff_grants.c.staff_id == staff_id)
            ).scalars()
        )
    return Actor(
        name=username,
        kind="staff",
        purposes=purposes,
        id=staff_id,
        all_purposes=role == Role.PRIVACY_OFFICER,
        role=role,
    )


def login(
    connection: Connection,
    *,
    username: str,
    password: str,
    totp_code: str | None,
    source_ip: str | None,
    passwords: Passwords,
    totp: TotpBox,
    auth: AuthSettings,
    now: datetime,
) -> LoginResult:
    """Check credentials; open a session or say why not (and count the failure)."""

    def refuse(
        code: str, message: str, *, reason: str | None = None, answer: str | None = None
    ) -> LoginResult:
        record_event(
            connection,
            now=now,
            # What was typed is never kept: people type passwords into the username field.
            actor=row.username if row is not None else UNKNOWN_ACCOUNT,
            actor_kind="staff",
            action="login",
            outcome="denied",
            code=code,
            reason=reason,
            source_ip=source_ip,
        )
        return LoginResult(None, False, PermissionDenied(message, code=answer or code))

    # Locked for the login: two logins at once cannot both spend one TOTP code, nor
    # both miss the other's failure count.
    row = connection.execute(
        select(staff).where(staff.c.username == username).with_for_update()
    ).first()
    remote = not from_trusted_network(source_ip, auth.trusted_networks)
    # From outside the trusted networks no refusal may tell whether the password was
    # right (a stolen one could be tried without the second factor): a login without
    # a code is asked for one whatever it typed, and every other failure is answered
    # alike. The log keeps what really failed.
    asked = remote and not totp_code
    generic = _BAD_CREDENTIALS_REMOTE if remote else _BAD_CREDENTIALS

    def answered(code: str, *, reason: str | None = None) -> LoginResult:
        if asked:
            return refuse(code, _TOTP_REQUIRED, reason=reason, answer="TOTP_REQUIRED")
        return refuse(code, generic, reason=reason, answer="BAD_PASSWORD")

    if row is None:
        passwords.verify(None, password)
        return answered("BAD_PASSWORD", reason="no such account")
    if row.disabled_at is not None:
        passwords.verify(None, password)
        return answered("BAD_PASSWORD", reason="the account is disabled")
    if row.locked_at is not None:
        # Whether an account is locked is told only to who holds its factors: to anyone
        # else a locked account answers as a wrong password does, after the same hashing.
        if not passwords.verify(row.password_hash, password):
            return answered("BAD_PASSWORD", reason="the account is locked")
        if remote and (
            asked
            or row.totp_sealed is None
            or matching_step(
                totp.open(row.totp_sealed, staff_id=row.id),
                totp_code or "",
                now=now,
                after=row.totp_last_step,
            )
            is None
        ):
            return answered("LOCKED", reason="the account is locked")
        return refuse(
            "LOCKED", "the account is locked after failed logins; ask the privacy officer"
        )

    def fail(code: str) -> LoginResult:
        # Answered as any failure, the locking one too: "now locked" would tell a
        # guesser the account exists.
        return answered(code, reason=_count_failure(connection, row.id, auth=auth, now=now)[1])

    if not passwords.verify(row.password_hash, password):
        return fail("BAD_PASSWORD")
    step = row.totp_last_step
    if remote:
        if row.totp_sealed is None:
            return answered("TOTP_NOT_ENROLLED", reason="no second factor is enrolled")
        if asked:
            return answered("TOTP_REQUIRED")
        secret = totp.open(row.totp_sealed, staff_id=row.id)
        step = matching_step(secret, totp_code or "", now=now, after=row.totp_last_step)
        if step is None:
            return fail("BAD_TOTP")
    values: dict[str, object] = {"failed_logins": 0, "last_login_at": now, "totp_last_step": step}
    if passwords.needs_rehash(row.password_hash):
        values["password_hash"] = passwords.hash(password)
    connection.execute(update(staff).where(staff.c.id == row.id).values(**values))
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    connection.execute(
        insert(staff_sessions).values(
            id=str(uuid.uuid4()),
            token_hash=_hash(secret),
            staff_id=row.id,
            source_ip=source_ip,
            created_at=now,
            last_seen_at=now,
        )
    )
    record_event(
        connection,
        now=now,
        actor=row.username,
        actor_kind="staff",
        action="login",
        source_ip=source_ip,
        reason="password and TOTP" if step != row.totp_last_step else "password",
    )
    return LoginResult(secret, bool(row.must_change_password), None)


def authenticate_session(
    connection: Connection,
    *,
    secret: str,
    auth: AuthSettings,
    now: datetime,
    password_change: bool = False,
    source_ip: str | None = None,
) -> SessionResult:
    """The actor of an open session; ends it when idle too long.

    A session opened with a one-time password serves only the password change
    (``password_change=True``) until the password is changed.
    """
    row = connection.execute(
        select(
            staff_sessions.c.id,
            staff_sessions.c.last_seen_at,
            staff.c.id.label("staff_id"),
            staff.c.username,
            staff.c.role,
            staff.c.must_change_password,
            staff.c.disabled_at,
        )
        .join(staff, staff.c.id == staff_sessions.c.staff_id)
        .where(staff_sessions.c.token_hash == _hash(secret), staff_sessions.c.ended_at.is_(None))
    ).first()
    if row is None or row.disabled_at is not None:
        return SessionResult(
            None, PermissionDenied("unknown or ended session", code="INVALID_TOKEN")
        )
    if now - row.last_seen_at >= timedelta(minutes=auth.idle_timeout_minutes):
        connection.execute(
            update(staff_sessions).where(staff_sessions.c.id == row.id).values(ended_at=now)
        )
        record_event(
            connection,
            now=now,
            actor=row.username,
            actor_kind="staff",
            action="session_expired",
            code="IDLE_TIMEOUT",
            reason=f"idle for {auth.idle_timeout_minutes} minutes or more",
            source_ip=source_ip,
        )
        error = PermissionDenied(
            "the session ended after inactivity; log in again", code="SESSION_EXPIRED"
        )
        return SessionResult(None, error)
    connection.execute(
        update(staff_sessions).where(staff_sessions.c.id == row.id).values(last_seen_at=now)
    )
    if row.must_change_password and not password_change:
        error = PermissionDenied(
            "change the one-time password first (POST /api/v1/auth/password)",
            code="PASSWORD_CHANGE_REQUIRED",
        )
        return SessionResult(None, error)
    actor = staff_actor(connection, staff_id=row.staff_id, username=row.username, role=row.role)
    return SessionResult(actor, None)


def logout(
    connection: Connection, *, secret: str, now: datetime, source_ip: str | None = None
) -> None:
    """End the session of ``secret``."""
    row = connection.execute(
        select(staff_sessions.c.id, staff.c.username)
        .join(staff, staff.c.id == staff_sessions.c.staff_id)
        .where(staff_sessions.c.token_hash == _hash(secret), staff_sessions.c.ended_at.is_(None))
    ).first()
    if row is None:
        raise PermissionDenied("unknown or ended session", code="INVALID_TOKEN")
    connection.execute(
        update(staff_sessions).where(staff_sessions.c.id == row.id).values(ended_at=now)
    )
    record_event(
        connection,
        now=now,
        actor=row.username,
        actor_kind="staff",
        action="logout",
        source_ip=source_ip,
    )


def change_password(
    connection: Connection,
    *,
    staff_id: str,
    current_password: str,
    new_password: str,
    passwords: Passwords,
    auth: AuthSettings,
    now: datetime,
    source_ip: str | None = None,
    session_secret: str | None = None,
) -> PermissionDenied | None:
    """Replace a password after checking the current one; return a refusal, if any.

    A wrong current password counts as a failed login (whoever holds a session must not
    guess the password without bound): at the lockout threshold the account locks and
    every session of it ends. A changed password ends the account's other sessions,
    all but the one of ``session_secret`` (a session taken before the change goes).
    """
    row = connection.execute(
        select(staff.c.username, staff.c.password_hash)
        .where(staff.c.id == staff_id)
        .with_for_update()
    ).one()
    if not passwords.verify(row.password_hash, current_password):
        locked, reason = _count_failure(connection, staff_id, auth=auth, now=now)
        if locked:
            _end_sessions(connection, staff_id, now=now)
        record_event(
            connection,
            now=now,
            actor=row.username,
            actor_kind="staff",
            action="password_change",
            outcome="denied",
            code="WRONG_PASSWORD",
            reason=reason,
            source_ip=source_ip,
        )
        return PermissionDenied("the current password is wrong", code="WRONG_PASSWORD")
    passwords.check_rule(new_password)
    if new_password == current_password:
        raise InvalidInput("choose a password other than the current one", field="new_password")
    connection.execute(
        update(staff)
        .where(staff.c.id == staff_id)
        .values(
            password_hash=passwords.hash(new_password), must_change_password=False, failed_logins=0
        )
    )
    ended = _end_sessions(
        connection, staff_id, now=now, keep=_hash(session_secret) if session_secret else None
    )
    record_event(
        connection,
        now=now,
        actor=row.username,
        actor_kind="staff",
        action="password_change",
        reason=f"{ended} other sessions ended" if ended else None,
        source_ip=source_ip,
    )
    return None


def _count_failure(
    connection: Connection, staff_id: str, *, auth: AuthSettings, now: datetime
) -> tuple[bool, str]:
    """Count one failed login, locking the account at the threshold: (locked, reason)."""
    failures = connection.execute(
        update(staff)
        .where(staff.c.id == staff_id)
        .values(failed_logins=staff.c.failed_logins + 1)
        .returning(staff.c.failed_logins)
    ).scalar_one()
    if failures < auth.lockout_threshold:
        return False, f"failure {failures} of {auth.lockout_threshold}"
    connection.execute(update(staff).where(staff.c.id == staff_id).values(locked_at=now))
    return True, f"locked after {failures} failed logins"


def _end_sessions(
    connection: Connection, staff_id: str, *, now: datetime, keep: str | None = None
) -> int:
    """End the open sessions of ``staff_id`` (but the one whose token hash is ``keep``)."""
    ending = update(staff_sessions).where(
        staff_sessions.c.staff_id == staff_id, staff_sessions.c.ended_at.is_(None)
    )
    if keep is not None:
        ending = ending.where(staff_sessions.c.token_hash != keep)
    return int(connection.execute(ending.values(ended_at=now)).rowcount or 0)
