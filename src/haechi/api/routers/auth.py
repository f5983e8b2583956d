"""Staff sessions: log in, log out, change one's own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from haechi.access.decision import Actor
from haechi.api.deps import ERRORS, BearerDep, EngineDep, IpDep, password_changer, secret_of
from haechi.api.schemas import LoginIn, LoginOut, PasswordChangeIn
from haechi.errors import PermissionDenied

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERRORS)


@router.post("/auth/login", response_model=LoginOut, tags=["staff"])
def login(body: LoginIn, engine: EngineDep, ip: IpDep) -> LoginOut:
    """Open a staff session; a TOTP code is required from outside the trusted networks."""
    result = engine.login(
        username=body.username, password=body.password, totp=body.totp, source_ip=ip
    )
    assert result.secret is not None
    return LoginOut(
        token=result.secret,
        must_change_password=result.must_change_password,
        idle_timeout_minutes=engine.settings.auth.idle_timeout_minutes,
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def logout(engine: EngineDep, credentials: BearerDep, ip: IpDep) -> None:
    """End the calling staff session (also one still on a one-time password)."""
    secret = secret_of(credentials)
    # A valid API token is no session to end: refused as a token (403), not as a bad secret.
    actor = engine.authenticate(secret, password_change=True, source_ip=ip)
    if actor.kind != "staff":
        raise PermissionDenied("only a staff session logs out", code="ROLE_REQUIRED")
    engine.logout(secret, source_ip=ip)


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def change_password(
    body: PasswordChangeIn,
    engine: EngineDep,
    actor: Annotated[Actor, Depends(password_changer)],
    credentials: BearerDep,
) -> None:
    """Change one's own password (required after a one-time password).

    The account's other sessions end; this one goes on. A wrong current password
    counts toward the lockout.
    """
    engine.change_password(
        actor=actor,
        current_password=body.current_password,
        new_password=body.new_password,
        session_secret=secret_of(credentials),
    )
