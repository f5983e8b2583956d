"""Who may act: API tokens, staff accounts, grants, logins and sessions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from haechi.access import sessions
from haechi.access import staff as accounts
from haechi.access.decision import Actor
from haechi.access.sessions import SESSION_PREFIX, LoginResult
from haechi.access.staff import GrantChange, NewCredentials, Role, StaffInfo, require_role
from haechi.access.tokens import TokenInfo, create_token, list_tokens, revoke_token
from haechi.audit.events import AuditEvent, list_events, record_event
from haechi.engine.base import EngineBase
from haechi.errors import (
    HaechiError,
    InvalidInput,
    PermissionDenied,
)
from haechi.storage.prepared import raw_read

__all__ = ["AccessMixin"]


class AccessMixin(EngineBase):
    """Who may act: API tokens, staff accounts, grants, logins and sessions."""

    # -- tokens and the log -------------------------------------------------------

    def create_token(
        self, *, name: str, purposes: list[str], created_by: str = "cli"
    ) -> tuple[TokenInfo, str]:
        """Make an API token limited to ``purposes``; the secret is returned once."""
        with self.transaction() as connection:
            info, secret = create_token(
                connection,
                name=name,
                purposes=purposes,
                declared_purposes=set(self.policy.policy.purposes)
                | set(self.policy.policy.hold_purposes),
                created_by=created_by,
                now=self.clock(),
            )
            record_event(
                connection,
                now=self.clock(),
                actor=created_by,
                actor_kind="staff",
                action="token_create",
                reason=f"token {name} for {', '.join(info.purposes)}",
            )
            return info, secret

    def revoke_token(self, name: str, *, revoked_by: str = "cli") -> None:
        """Revoke a token; its next call is refused."""
        with self.transaction() as connection:
            revoke_token(connection, name=name, now=self.clock())
            record_event(
                connection,
                now=self.clock(),
                actor=revoked_by,
                actor_kind="staff",
                action="token_revoke",
                reason=f"token {name}",
            )

    def tokens(self) -> list[TokenInfo]:
        """Every API token, without secrets."""
        with self.transaction() as connection:
            return list_tokens(connection)

    def authenticate(
        self, secret: str, *, password_change: bool = False, source_ip: str | None = None
    ) -> Actor:
        """The actor behind an API token or staff session secret, as it stands now.

        A staff session's role and grants are read on every call, so a revocation
        bites on the very next one; an idle session ends (see :mod:`haechi.access.sessions`).
        The actor carries ``source_ip``: every event it causes records where it came from.
        """
        if not secret.startswith(SESSION_PREFIX):
            # A token lookup only reads: on SQLite it takes no write lock (a WAL
            # snapshot), so it never queues behind the writers of other requests.
            with raw_read(self.database) as cursor:
                return replace(self._tokens.authenticate(cursor, secret), source_ip=source_ip)
        with self.transaction() as connection:
            result = sessions.authenticate_session(
                connection,
                secret=secret,
                auth=self.settings.auth,
                now=self.clock(),
                password_change=password_change,
                source_ip=source_ip,
            )
        if result.error is not None:
            raise result.error
        assert result.actor is not None
        return replace(result.actor, source_ip=source_ip)

    def events(self, *, subject_id: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """The newest audit events."""
        with self.transaction() as connection:
            return list_events(connection, subject_id=subject_id, limit=limit)

    # -- staff: accounts, grants, logins -------------------------------------------
    # Who may do what is in the docstring of haechi.access.staff: the privacy officer
    # widens access; the admin may only narrow it; auditors and admins read.

    def _staff_change(
        self, action: str, actor: Actor, roles: tuple[Role, ...], change: Callable[..., Any]
    ) -> Any:
        """Run ``change(connection, now)`` for an actor holding one of ``roles``.

        A refusal is itself an audit event, committed before the error is raised: a
        missing role, and a change the accounts refuse (an unknown name, a grant not
        held…), whose partial writes are rolled back first.
        """
        try:
            with self.transaction() as connection:
                require_role(actor, *roles)
                return change(connection, self.clock())
        except HaechiError as refusal:
            with self.transaction() as connection:
                self._record(
                    connection,
                    actor,
                    action,
                    outcome="denied",
                    code=refusal.code,
                )
            raise

    def add_staff(
        self,
        *,
        username: str,
        role: Role | str,
        purposes: list[str] | None = None,
        reason: str = "new account",
        actor: Actor,
    ) -> NewCredentials:
        """Create an account; its one-time password and TOTP enrolment URI are shown once."""
        checked = _role(role)
        credentials: NewCredentials = self._staff_change(
            "staff_create",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.create_staff(
                c,
                username=username,
                role=checked,
                purposes=purposes or [],
                declared_purposes=set(self.policy.policy.purposes),
                passwords=self._passwords,
                totp=self._totp,
                by=actor,
                reason=reason,
                now=now,
            ),
        )
        return credentials

    def grant_staff(
        self, username: str, *, purposes: list[str], reason: str, actor: Actor
    ) -> list[str]:
        """Grant a handler purposes; return those newly granted."""
        granted: list[str] = self._staff_change(
            "staff_grant",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.grant_purposes(
                c,
                username=username,
                purposes=purposes,
                declared_purposes=set(self.policy.policy.purposes),
                by=actor,
                reason=reason,
                now=now,
            ),
        )
        return granted

    def revoke_staff(
        self, username: str, *, purposes: list[str], reason: str, actor: Actor
    ) -> None:
        """Revoke grants; the account's very next call is refused them."""
        self._staff_change(
            "staff_revoke",
            actor,
            (Role.PRIVACY_OFFICER, Role.ADMIN),
            lambda c, now: accounts.revoke_purposes(
                c, username=username, purposes=purposes, by=actor, reason=reason, now=now
            ),
        )

    def disable_staff(self, username: str, *, reason: str, actor: Actor) -> None:
        """Close an account (a leaver): grants revoked, sessions ended, logins refused."""
        self._staff_change(
            "staff_revoke",
            actor,
            (Role.PRIVACY_OFFICER, Role.ADMIN),
            lambda c, now: accounts.disable_staff(
                c, username=username, by=actor, reason=reason, now=now
            ),
        )

    def change_staff_role(
        self, username: str, *, role: Role | str, reason: str, actor: Actor
    ) -> None:
        """Change an account's role (a handler's grants go with its old role)."""
        checked = _role(role)
        self._staff_change(
            "staff_role_change",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.set_role(
                c, username=username, role=checked, by=actor, reason=reason, now=now
            ),
        )

    def unlock_staff(self, username: str, *, reason: str = "unlocked", actor: Actor) -> None:
        """Lift the lockout that failed logins put on an account."""
        self._staff_change(
            "staff_unlock",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.unlock_staff(
                c, username=username, by=actor, reason=reason, now=now
            ),
        )

    def reset_staff_password(
        self,
        username: str,
        *,
        new_totp: bool = False,
        reason: str = "password reset",
        actor: Actor,
    ) -> NewCredentials:
        """A new one-time password (and TOTP secret if asked); the account's sessions end."""
        credentials: NewCredentials = self._staff_change(
            "staff_password_reset",
            actor,
            (Role.PRIVACY_OFFICER,),
            lambda c, now: accounts.reset_password(
                c,
                username=username,
                passwords=self._passwords,
                totp=self._totp,
                new_totp=new_totp,
                by=actor,
                reason=reason,
                now=now,
            ),
        )
        return credentials

    def staff(self, *, actor: Actor) -> list[StaffInfo]:
        """Every staff account with its role and grants (never secrets)."""
        require_role(actor, Role.PRIVACY_OFFICER, Role.ADMIN, Role.AUDITOR)
        with self.transaction() as connection:
            return accounts.list_staff(connection)

    def grant_history(
        self, *, username: str | None = None, limit: int = 1000, actor: Actor
    ) -> list[GrantChange]:
        """The append-only history of grants, role changes and revocations."""
        require_role(actor, Role.PRIVACY_OFFICER, Role.ADMIN, Role.AUDITOR)
        with self.transaction() as connection:
            return accounts.grant_history(connection, username=username, limit=limit)

    def login(
        self,
        *,
        username: str,
        password: str,
        totp: str | None = None,
        source_ip: str | None = None,
    ) -> LoginResult:
        """Open a staff session, or refuse (the failure is counted and logged first)."""
        with self.transaction() as connection:
            result = sessions.login(
                connection,
                username=username,
                password=password,
                totp_code=totp,
                source_ip=source_ip,
                passwords=self._passwords,
                totp=self._totp,
                auth=self.settings.auth,
                now=self.clock(),
            )
        if result.error is not None:
            raise result.error
        return result

    def logout(self, secret: str, *, source_ip: str | None = None) -> None:
        """End a staff session."""
        with self.transaction() as connection:
            sessions.logout(connection, secret=secret, now=self.clock(), source_ip=source_ip)

    def change_password(
        self,
        *,
        actor: Actor,
        current_password: str,
        new_password: str,
        session_secret: str | None = None,
    ) -> None:
        """Replace a staff member's own password (required after a one-time password).

        The account's other sessions end; ``session_secret`` names the one that goes on.
        A wrong current password counts toward the lockout, as a failed login does.
        """
        if actor.kind != "staff" or actor.id is None:
            raise PermissionDenied("only a staff session has a password", code="ROLE_REQUIRED")
        staff_id = actor.id
        with self.transaction() as connection:
            refusal = sessions.change_password(
                connection,
                staff_id=staff_id,
                current_password=current_password,
                new_password=new_password,
                passwords=self._passwords,
                auth=self.settings.auth,
                now=self.clock(),
                source_ip=actor.source_ip,
                session_secret=session_secret,
            )
        if refusal is not None:
            raise refusal


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise InvalidInput(f"role must be one of {names}", field="role") from None
