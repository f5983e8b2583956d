"""Logging in and out of the console, and changing a one-time password.

The login is the staff login of :mod:`haechi.access.sessions` (lockout, TOTP from
outside the trusted networks, an audit event for every attempt); a success always
sets a new session cookie, and ends the session the browser held before, if any.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse

from haechi.errors import InvalidInput, PermissionDenied
from haechi.web.console import rules
from haechi.web.console.fields import Line, Text
from haechi.web.console.pages import ConsoleRoute, page, redirect
from haechi.web.console.session import (
    COOKIE,
    Guard,
    Viewer,
    anonymous_token,
    client_ip,
    cookie_options,
    engine_of,
)
from haechi.web.forms import anonymous_binding, secure_cookies, set_binding_cookie

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Anyone = Annotated[Viewer, Depends(Guard("console_login", None))]
LoggedIn = Annotated[Viewer, Depends(Guard("console_logout", rules.ALL_STAFF))]
Changing = Annotated[
    Viewer, Depends(Guard("console_password", rules.ALL_STAFF, password_change=True))
]
# The reasons a login page may state (its template words them): anything else is ignored.
_REASONS = ("unauthenticated", "session_expired", "invalid_token", "logged_out")
_MAX_NEXT = 200


def _next_page(value: str | None) -> str:
    """A console path to return to; anything else (another host, a scheme) is dropped."""
    if (
        value
        and len(value) <= _MAX_NEXT
        and value.startswith("/console/")
        and "//" not in value
        and "\\" not in value
        and value.isascii()
        and value.isprintable()
    ):
        return value
    return "/console"


def _login_form(
    request: Request,
    viewer: Viewer,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    next_page: str = "/console",
) -> HTMLResponse:
    binding, fresh = anonymous_binding(request)
    if fresh:
        viewer = Viewer(
            None, viewer.lang, anonymous_token(engine_of(request), binding), viewer.path
        )
    response = page(
        request,
        viewer,
        "login.html.j2",
        status=status,
        error=error,
        notice=notice,
        next_page=next_page,
    )
    if fresh:
        set_binding_cookie(response, binding, secure=secure_cookies(request))
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, viewer: Anyone, reason: str | None = None, next: str | None = None
) -> HTMLResponse:
    """The login form (password, and a TOTP code from outside the trusted networks)."""
    notice = reason if reason in _REASONS else None
    return _login_form(request, viewer, notice=notice, next_page=_next_page(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    viewer: Anyone,
    username: Annotated[Line, Form(min_length=1, max_length=100)],
    password: Annotated[Text, Form(min_length=1, max_length=1024)],
    totp: Annotated[str, Form(max_length=6, pattern=r"^([0-9]{6})?$")] = "",
    next: Annotated[str, Form(max_length=_MAX_NEXT)] = "/console",
) -> Response:
    """Open a session: a new cookie; the browser's previous session, if any, ends."""
    engine = engine_of(request)
    ip = client_ip(request)
    try:
        result = engine.login(username=username, password=password, totp=totp or None, source_ip=ip)
    except PermissionDenied as refused:
        status = 403 if refused.code == "LOCKED" else 401
        return _login_form(
            request, viewer, status=status, error=refused.code, next_page=_next_page(next)
        )
    assert result.secret is not None
    previous = request.cookies.get(COOKIE)
    if previous and previous != result.secret:
        with suppress(PermissionDenied):  # already ended: nothing to end
            engine.logout(previous, source_ip=ip)
    target = "/console/password" if result.must_change_password else _next_page(next)
    response = redirect(target)
    options = cookie_options(request)
    response.set_cookie(COOKIE, result.secret, **options)  # type: ignore[arg-type]
    return response


@router.post("/logout")
def logout(request: Request, viewer: LoggedIn) -> Response:
    """End the session in the database and drop its cookie."""
    secret = request.cookies.get(COOKIE)
    if secret:
        engine_of(request).logout(secret, source_ip=client_ip(request))
    response = redirect("/console/login?reason=logged_out")
    response.delete_cookie(COOKIE, path=str(cookie_options(request)["path"]))
    return response


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, viewer: Changing) -> HTMLResponse:
    """Change one's own password (first, after a one-time password)."""
    return page(request, viewer, "password.html.j2")


@router.post("/password")
def change_password(
    request: Request,
    viewer: Changing,
    current_password: Annotated[Text, Form(min_length=1, max_length=1024)],
    new_password: Annotated[Text, Form(min_length=1, max_length=1024)],
    repeat: Annotated[Text, Form(min_length=1, max_length=1024)],
) -> Response:
    """Replace the password; this session goes on, the account's others end."""
    if new_password != repeat:
        raise InvalidInput("the two new passwords differ", field="repeat")
    engine_of(request).change_password(
        actor=viewer.staff,
        current_password=current_password,
        new_password=new_password,
        session_secret=request.cookies.get(COOKIE),
    )
    return redirect("/console")
