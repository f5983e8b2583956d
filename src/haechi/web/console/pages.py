"""Rendering console pages, and one table from Haechi's errors to pages.

:class:`ConsoleRoute` is the route class of every console route: an error raised by a
page (a refusal, a missing request, a bad filter) becomes an HTML page with the
status the API would give and the fields at fault, never a traceback; a page that
needs a session sends the browser to the login form instead.

Every page is whole HTML with no asset from another host (:func:`haechi.web.pages.
html_response`): the stylesheet and the vendored htmx are static files, the charts are
inline SVG whose own ``<style>`` elements the Content-Security-Policy names by hash.
Staff pages are never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from haechi.access.roles import Role
from haechi.errors import (
    ConfigurationError,
    Conflict,
    HaechiError,
    IntegrityFailure,
    NotFound,
    PermissionDenied,
    PolicyViolation,
    Problem,
)
from haechi.rights.codes import RateLimited
from haechi.web.console import rules
from haechi.web.console.session import (
    COOKIE,
    LANG_COOKIE,
    LoginRequired,
    Viewer,
    cookie_options,
    language_of,
)
from haechi.web.i18n import environment
from haechi.web.pages import html_response

__all__ = ["ConsoleRoute", "Nav", "page", "redirect", "status_of"]

# Most specific first, as the API's table: the first matching base decides.
_STATUS: list[tuple[type[HaechiError], int]] = [
    (RateLimited, 429),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PolicyViolation, 422),
    (IntegrityFailure, 500),
    (ConfigurationError, 503),
]
_MAX_FIELD = 60


@dataclass(frozen=True)
class Nav:
    """One entry of the console's menu."""

    href: str
    label: str
    roles: tuple[Role, ...]


MENU = (
    Nav("/console", "Dashboard", rules.ALL_STAFF),
    Nav("/console/requests", "Requests", rules.REQUEST_READERS),
    Nav("/console/complaints", "Complaints", rules.COMPLAINT_READERS),
    Nav("/console/subjects", "Subjects", rules.SUBJECT_SEARCHERS),
    Nav("/console/log", "Access log", rules.LOG_READERS),
    Nav("/console/destructions", "Destructions", rules.DESTRUCTION_READERS),
    Nav("/console/incidents", "Incidents", rules.INCIDENT_READERS),
    Nav("/console/staff", "Staff and grants", rules.OFFICER),
    Nav("/console/policy", "Policy versions", rules.POLICY_READERS),
)


def status_of(error: HaechiError) -> int:
    """The HTTP status of ``error`` (422 for bad input and what is not listed)."""
    for base, status in _STATUS:
        if isinstance(error, base):
            return status
    return 422


def page(
    request: Request, viewer: Viewer, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """``template`` rendered for ``viewer`` in its language, with the console's headers."""
    env = environment(viewer.lang, "html")
    menu = [
        entry
        for entry in MENU
        if viewer.actor is not None
        and (viewer.actor.kind == "system" or viewer.actor.role in entry.roles)
    ]
    other = "en" if viewer.lang == "ko" else "ko"
    html = env.get_template(f"console/{template}").render(
        viewer=viewer,
        menu=menu,
        here=request.url.path,
        switch_href=f"{request.url.path}?lang={other}",
        other_label="English" if other == "en" else "한국어",
        **context,
    )
    response = html_response(html, status_code=status)
    if request.query_params.get("lang") == viewer.lang:
        response.set_cookie(LANG_COOKIE, viewer.lang, **cookie_options(request))  # type: ignore[arg-type]
    return response


def redirect(url: str) -> RedirectResponse:
    """See other: after a POST, the page to show (PRG)."""
    return RedirectResponse(url, status_code=303)


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "form")]
    # Field names come from our routes, never from the client: still, bounded.
    return ".".join(parts)[:_MAX_FIELD] or "form"


# An htmx request that fails shows the error page's main in place of the page's main.
_HTMX_ERROR = {"HX-Retarget": "#main", "HX-Reselect": "#main", "HX-Reswap": "outerHTML"}


def _from_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _error_page(request: Request, error: HaechiError, status: int) -> HTMLResponse:
    viewer = Viewer(None, language_of(request), "", request.url.path)
    response = page(
        request,
        viewer,
        "error.html.j2",
        status=status,
        message=error.message,
        code=error.code,
        problems=list(error.faults),
    )
    if _from_htmx(request):
        response.headers.update(_HTMX_ERROR)
    return response


def _login_redirect(request: Request, code: str) -> Response:
    if code == "PASSWORD_CHANGE_REQUIRED":
        return redirect("/console/password")
    target = "/console/login?reason=" + quote(code.lower())
    if request.method == "GET" and request.url.path != "/console":
        target += "&next=" + quote(request.url.path, safe="")
    response: Response = redirect(target)
    if _from_htmx(request):
        # A fetch follows a redirect unseen: htmx is told to load the login page instead.
        response = Response(status_code=204, headers={"HX-Redirect": target})
    options = cookie_options(request)
    response.delete_cookie(
        COOKIE,
        path=str(options["path"]),
        secure=bool(options["secure"]),
        httponly=True,
        samesite="strict",
    )
    return response


def _drop_empty_parameters(request: Request) -> None:
    """Forget query parameters sent empty: a filter form sends every field, chosen or not."""
    raw: bytes = request.scope.get("query_string", b"")
    kept = [pair for pair in raw.split(b"&") if pair and not pair.endswith(b"=") and b"=" in pair]
    request.scope["query_string"] = b"&".join(kept)


class ConsoleRoute(APIRoute):
    """A console route: errors become pages, a missing session the login form."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler wrapped in the console's error pages."""
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            _drop_empty_parameters(request)
            try:
                return await handle(request)
            except LoginRequired as needed:
                return _login_redirect(request, needed.code)
            except RequestValidationError as invalid:
                problems = tuple(
                    Problem(
                        field=_field(tuple(error.get("loc", ()))),
                        code=str(error.get("type", "invalid")).upper(),
                        message=str(error.get("msg", "invalid")),
                    )
                    for error in invalid.errors()
                )[:10]
                first = problems[0] if problems else Problem("form", "INVALID", "invalid")
                error = HaechiError(
                    f"{first.field}: {first.message}",
                    field=first.field,
                    code="INVALID_INPUT",
                    problems=problems,
                )
                return _error_page(request, error, 422)
            except HaechiError as error:
                return _error_page(request, error, status_of(error))

        return handler
