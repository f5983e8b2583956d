"""Staff accounts and grants (privacy officer only), with the append-only grant history.

A new account's one-time password and TOTP enrolment are shown once, on the page that
answers the creation (or the reset), and never again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from haechi.access.roles import Role
from haechi.access.staff import NewCredentials
from haechi.web.console import rules
from haechi.web.console.fields import Line
from haechi.web.console.pages import ConsoleRoute, page, redirect
from haechi.web.console.session import Guard, Viewer, engine_of

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Officer = Annotated[Viewer, Depends(Guard("console_staff", rules.OFFICER))]
Username = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
Reason = Annotated[Line, Form(min_length=1, max_length=500)]
Purposes = Annotated[list[Annotated[Line, Form(max_length=63)]], Form(max_length=64)]
_HISTORY = 200


@router.get("/staff", response_class=HTMLResponse)
def accounts(
    request: Request,
    viewer: Officer,
    username: Annotated[
        str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    ] = None,
) -> HTMLResponse:
    """Every account with its role and grants; the grant history (of one account, if asked)."""
    engine = engine_of(request)
    return page(
        request,
        viewer,
        "staff.html.j2",
        accounts=engine.staff(actor=viewer.staff),
        history=engine.grant_history(username=username, limit=_HISTORY, actor=viewer.staff),
        history_of=username,
        roles=[role.value for role in Role],
        purposes=sorted(engine.policy.policy.purposes),
        credentials=None,
    )


def _credentials(request: Request, viewer: Viewer, credentials: NewCredentials) -> HTMLResponse:
    return page(request, viewer, "credentials.html.j2", credentials=credentials)


@router.post("/staff", response_class=HTMLResponse)
def create(
    request: Request,
    viewer: Officer,
    username: Annotated[Line, Form(min_length=1, max_length=100)],
    role: Annotated[Line, Form(min_length=1, max_length=20)],
    reason: Reason,
    purposes: Purposes = [],  # noqa: B006 - FastAPI copies defaults
) -> HTMLResponse:
    """Create an account; its one-time password and TOTP enrolment are shown once."""
    credentials = engine_of(request).add_staff(
        username=username, role=role, purposes=purposes, reason=reason, actor=viewer.staff
    )
    return _credentials(request, viewer, credentials)


@router.post("/staff/{username}/grants")
def grant(
    request: Request, viewer: Officer, username: Username, purposes: Purposes, reason: Reason
) -> Response:
    """Grant a handler purposes."""
    engine_of(request).grant_staff(username, purposes=purposes, reason=reason, actor=viewer.staff)
    return redirect("/console/staff")


@router.post("/staff/{username}/revoke")
def revoke(
    request: Request, viewer: Officer, username: Username, purposes: Purposes, reason: Reason
) -> Response:
    """Revoke grants; the account's very next call is refused them."""
    engine_of(request).revoke_staff(username, purposes=purposes, reason=reason, actor=viewer.staff)
    return redirect("/console/staff")


@router.post("/staff/{username}/role")
def change_role(
    request: Request,
    viewer: Officer,
    username: Username,
    role: Annotated[Line, Form(min_length=1, max_length=20)],
    reason: Reason,
) -> Response:
    """Change an account's role (a handler's grants go with its old role)."""
    engine_of(request).change_staff_role(username, role=role, reason=reason, actor=viewer.staff)
    return redirect("/console/staff")


@router.post("/staff/{username}/unlock")
def unlock(request: Request, viewer: Officer, username: Username, reason: Reason) -> Response:
    """Lift a lockout after failed logins."""
    engine_of(request).unlock_staff(username, reason=reason, actor=viewer.staff)
    return redirect("/console/staff")


@router.post("/staff/{username}/disable")
def disable(request: Request, viewer: Officer, username: Username, reason: Reason) -> Response:
    """Close an account: grants revoked, sessions ended, logins refused."""
    engine_of(request).disable_staff(username, reason=reason, actor=viewer.staff)
    return redirect("/console/staff")


@router.post("/staff/{username}/password-reset", response_class=HTMLResponse)
def reset(
    request: Request,
    viewer: Officer,
    username: Username,
    reason: Reason,
    new_totp: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """A new one-time password (and TOTP secret if asked), shown once; sessions end."""
    credentials = engine_of(request).reset_staff_password(
        username, new_totp=new_totp, reason=reason, actor=viewer.staff
    )
    return _credentials(request, viewer, credentials)
