"""Every console route against every role, read from the application's own route table.

A route without a declared guard fails here; so does a route whose guard lets in a
role it does not name, or turns away one it does. Each refusal is an audit event.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.access.roles import Role
from haechi.api import create_app
from haechi.config import Settings
from haechi.web.console import Guard, guard_of, routes_of
from tests.access.staff_helpers import NEW_PASSWORD, TRUSTED
from tests.console.support import COOKIE, console, csrf_of, denials, login_as

__all__ = ["console"]

_PARAM = re.compile(r"{([a-z_]+)}")
REFUSED = 'data-error="ROLE_REQUIRED"'


def console_routes() -> list[tuple[APIRoute, str]]:
    """(route, method) of every console route of the application."""
    app = create_app(Settings())
    return [
        (route, method)
        for route in routes_of(app.routes)
        if route.path.startswith("/console")
        for method in sorted(route.methods)
    ]


ROUTES = console_routes()


def _path(route: APIRoute) -> str:
    values = {"username": "nobody", "request_id": str(uuid.uuid4())}
    return _PARAM.sub(lambda match: values.get(match.group(1), str(uuid.uuid4())), route.path)


def test_the_console_has_routes_and_every_one_declares_a_guard() -> None:
    """It refuses a console route that declares no rule of who may open it."""
    assert len(ROUTES) > 20
    missing = [f"{method} {route.path}" for route, method in ROUTES if guard_of(route) is None]
    assert missing == []


@pytest.mark.parametrize("role", [None, *Role])
def test_each_route_admits_exactly_the_roles_its_guard_names(
    role: Role | None, engine: Engine, console: TestClient
) -> None:
    """Anonymous callers go to the login form; a role outside the guard is refused, audited."""
    username = f"member-{role.value}" if role is not None else ""
    if role is not None:
        login_as(console, engine, username, role.value)
    for route, method in ROUTES:
        token = "none"
        if role is not None:
            # A fresh session each time: the logout route ends the one before.
            fresh = engine.login(username=username, password=NEW_PASSWORD, source_ip=TRUSTED)
            assert fresh.secret is not None
            console.cookies.set(COOKIE, fresh.secret)
            token = csrf_of(console.get("/console/password").text)
        guard = guard_of(route)
        assert isinstance(guard, Guard)
        path = _path(route)
        before = len(denials(engine, guard.action))
        if method == "GET":
            response = console.get(path)
        else:
            response = console.post(path, data={"csrf_token": token})
        where = f"{method} {route.path} as {role}"
        assert response.status_code < 500, where
        if guard.roles is None:
            assert REFUSED not in response.text, where
            continue
        if role is None:
            assert response.status_code == 303, where
            assert response.headers["location"].startswith("/console/login"), where
        elif role in guard.roles:
            assert REFUSED not in response.text, where
            assert len(denials(engine, guard.action)) == before, where
        else:
            assert response.status_code == 403, where
            assert REFUSED in response.text, where
            assert denials(engine, guard.action)[before:] == [(username, "ROLE_REQUIRED")], where
