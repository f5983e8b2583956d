"""Staff accounts: list, create, grant, revoke, change role, unlock, reset a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from haechi.access.staff import NewCredentials
from haechi.api.deps import ERRORS, ActorDep, EngineDep
from haechi.api.schemas import (
    GrantChangePublic,
    GrantIn,
    GrantOut,
    PasswordResetIn,
    ReasonIn,
    RevokeIn,
    RoleIn,
    StaffCreate,
    StaffCredentials,
    StaffPublic,
)
from haechi.errors import InvalidInput

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERRORS)
Username = Annotated[str, Path(min_length=1, max_length=100)]


def _credentials(credentials: NewCredentials) -> StaffCredentials:
    return StaffCredentials(
        username=credentials.username,
        one_time_password=credentials.password,
        totp_uri=credentials.totp_uri,
    )


@router.get("/staff", response_model=list[StaffPublic], tags=["staff"])
def list_staff(engine: EngineDep, actor: ActorDep) -> list[StaffPublic]:
    """Every account with its role, grants and state (officer, admin, auditor)."""
    return [
        StaffPublic(
            username=account.username,
            role=account.role,
            purposes=account.purposes,
            locked=account.locked,
            failed_logins=account.failed_logins,
            must_change_password=account.must_change_password,
            totp_enrolled=account.totp_enrolled,
            created_at=account.created_at,
            last_login_at=account.last_login_at,
            disabled_at=account.disabled_at,
        )
        for account in engine.staff(actor=actor)
    ]


@router.post(
    "/staff",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffCredentials,
    tags=["staff"],
)
def create_staff(body: StaffCreate, engine: EngineDep, actor: ActorDep) -> StaffCredentials:
    """Create an account (privacy officer); its one-time credentials are shown once."""
    return _credentials(
        engine.add_staff(
            username=body.username,
            role=body.role,
            purposes=body.purposes,
            reason=body.reason,
            actor=actor,
        )
    )


@router.get("/staff/history", response_model=list[GrantChangePublic], tags=["staff"])
def staff_history(
    engine: EngineDep,
    actor: ActorDep,
    username: Annotated[str | None, Query(max_length=100)] = None,
) -> list[GrantChangePublic]:
    """The append-only history of grants, role changes and revocations."""
    return [
        GrantChangePublic(
            occurred_at=change.occurred_at,
            username=change.username,
            change=change.change,
            purpose=change.purpose,
            role=change.role,
            changed_by=change.changed_by,
            reason=change.reason,
        )
        for change in engine.grant_history(username=username, actor=actor)
    ]


@router.post("/staff/{username}/grants", response_model=GrantOut, tags=["staff"])
def grant_staff(username: Username, body: GrantIn, engine: EngineDep, actor: ActorDep) -> GrantOut:
    """Grant a handler purposes (privacy officer)."""
    granted = engine.grant_staff(username, purposes=body.purposes, reason=body.reason, actor=actor)
    return GrantOut(granted=granted)


@router.post("/staff/{username}/revoke", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def revoke_staff(username: Username, body: RevokeIn, engine: EngineDep, actor: ActorDep) -> None:
    """Revoke grants or close the account (officer or admin); effective on the next call."""
    if body.account == bool(body.purposes):
        raise InvalidInput("give purposes or account: true, not both", field="purposes")
    if body.account:
        engine.disable_staff(username, reason=body.reason, actor=actor)
    else:
        engine.revoke_staff(username, purposes=body.purposes, reason=body.reason, actor=actor)


@router.put("/staff/{username}/role", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def change_role(username: Username, body: RoleIn, engine: EngineDep, actor: ActorDep) -> None:
    """Change an account's role (privacy officer)."""
    engine.change_staff_role(username, role=body.role, reason=body.reason, actor=actor)


@router.post("/staff/{username}/unlock", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def unlock_staff(username: Username, body: ReasonIn, engine: EngineDep, actor: ActorDep) -> None:
    """Lift a lockout after failed logins (privacy officer)."""
    engine.unlock_staff(username, reason=body.reason, actor=actor)


@router.post("/staff/{username}/password-reset", response_model=StaffCredentials, tags=["staff"])
def reset_password(
    username: Username, body: PasswordResetIn, engine: EngineDep, actor: ActorDep
) -> StaffCredentials:
    """A new one-time password, shown once (privacy officer); the account's sessions end."""
    return _credentials(
        engine.reset_staff_password(
            username, new_totp=body.new_totp, reason=body.reason, actor=actor
        )
    )
