"""The console's cookie session, its CSRF tokens, and the guard every console route declares.

The session is the staff session of :mod:`haechi.access.sessions` (``hcs_…``), carried
in a cookie instead of a bearer header: HttpOnly, SameSite=Strict, Secure unless the
console is reached on a loopback address, scoped to ``/console``. A login always makes
a new session (a cookie set before it is never adopted); logout ends it in the database.

A form's CSRF token is :class:`haechi.web.forms.Csrf` bound to the session (a digest of
its secret): nothing stored, compared in constant time. Before login, the login form's
token is bound to the browser's anonymous CSRF cookie, as the privacy center's forms are.

:class:`Guard` is the one dependency of every console route: it names the roles that
may open the route (``None``: anyone, for the login page and the stylesheet), resolves
the session, checks the role (a refusal is an audit event), and checks the CSRF token
of every POST. The role matrix test reads the guards from the application's routes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import Request

from haechi.access.decision import Actor
from haechi.access.roles import Role
from haechi.engine import Engine
from haechi.errors import PermissionDenied
from haechi.web.forms import CSRF_COOKIE, CSRF_FIELD, Csrf, read_form, secure_cookies
from haechi.web.public import preferred_language

__all__ = [
    "COOKIE",
    "LANG_COOKIE",
    "Guard",
    "LoginRequired",
    "Viewer",
    "anonymous_token",
    "client_ip",
    "cookie_options",
    "engine_of",
    "language_of",
    "session_token",
]

COOKIE = "haechi_console"
LANG_COOKIE = "haechi_console_lang"
PATH = "/console"
# Codes of a session that is no more: the person logs in again.
_LOGGED_OUT = {"INVALID_TOKEN", "SESSION_EXPIRED"}
_MAX_SECRET = 100


class LoginRequired(Exception):
    """No usable session: the page sends the browser to the login form."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Viewer:
    """Who opens a console page: the staff actor (None on the login page) and its tokens."""

    actor: Actor | None
    lang: str
    csrf: str
    path: str

    @property
    def staff(self) -> Actor:
        """The actor of a page that needs a session."""
        assert self.actor is not None
        return self.actor

    @property
    def role(self) -> str | None:
        """The viewer's role, if logged in."""
        return self.actor.role if self.actor is not None else None


def engine_of(request: Request) -> Engine:
    """The engine of this application."""
    engine: Engine = request.app.state.engine
    return engine


def language_of(request: Request) -> str:
    """``?lang=``, then the console's language cookie, then Accept-Language."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in ("ko", "en"):
            return value
    return preferred_language(request.headers.get("accept-language"))


def _csrf(engine: Engine) -> Csrf:
    return Csrf.from_keys(engine.keys)


def _binding(secret: str) -> str:
    # The secret itself never leaves the cookie: the token binds to its digest.
    return hashlib.sha256(secret.encode()).hexdigest()


def session_token(engine: Engine, secret: str) -> str:
    """The CSRF token of the forms of the session ``secret``."""
    return _csrf(engine).token(_binding(secret), scope="session")


def anonymous_token(engine: Engine, binding: str) -> str:
    """The CSRF token of the login form, bound to the browser's anonymous CSRF cookie."""
    return _csrf(engine).token(binding)


def cookie_options(request: Request) -> dict[str, object]:
    """The attributes of the session cookie (and the console's language cookie)."""
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": secure_cookies(request),
        "path": PATH,
    }


def client_ip(request: Request) -> str | None:
    """The caller's address as the middleware resolved it."""
    return request.client.host if request.client else None


def _cookie(request: Request, name: str) -> str | None:
    value = request.cookies.get(name)
    if value is None or not value or len(value) > _MAX_SECRET:
        return None
    return value


@dataclass(frozen=True)
class Guard:
    """Who may open a console route, checked on every call.

    ``roles`` None: anyone (no session needed); otherwise a staff session whose role
    is one of them. ``action`` names the route in the audit event of a refusal.
    """

    action: str
    roles: tuple[Role, ...] | None
    password_change: bool = False

    async def __call__(self, request: Request) -> Viewer:
        """The viewer of this request, or the refusal (login, role, CSRF) raised."""
        engine = engine_of(request)
        lang = language_of(request)
        path = request.url.path
        if self.roles is None:
            binding = request.cookies.get(CSRF_COOKIE)
            viewer = Viewer(None, lang, anonymous_token(engine, binding) if binding else "", path)
            if request.method == "POST":
                _csrf(engine).check(await _sent_token(request), binding)
            return viewer
        secret = _cookie(request, COOKIE)
        if secret is None:
            raise LoginRequired("UNAUTHENTICATED")
        try:
            actor = engine.authenticate(
                secret, password_change=self.password_change, source_ip=client_ip(request)
            )
        except PermissionDenied as refused:
            if refused.code in _LOGGED_OUT or refused.code == "PASSWORD_CHANGE_REQUIRED":
                raise LoginRequired(refused.code) from None
            raise
        viewer = Viewer(actor, lang, session_token(engine, secret), path)
        if request.method == "POST":
            _csrf(engine).check(await _sent_token(request), _binding(secret), scope="session")
        engine.require_staff(self.action, *self.roles, actor=actor)
        return viewer


async def _sent_token(request: Request) -> object:
    form = await read_form(request)
    return form.get(CSRF_FIELD)
