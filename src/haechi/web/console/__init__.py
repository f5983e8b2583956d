"""The staff console: server-rendered pages over the same engine calls the HTTP API uses.

Every route declares its :class:`~haechi.web.console.session.Guard` (the roles that
may open it) next to its definition; :func:`guard_of` reads it back, so the role
matrix test covers every route the application has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from haechi.web.console import (
    auth,
    complaints,
    dashboard,
    destructions,
    incidents,
    log,
    policy,
    requests,
    staff,
    subjects,
)
from haechi.web.console.session import Guard

__all__ = ["Guard", "guard_of", "router", "routes_of"]

router = APIRouter()
for _area in (
    auth,
    dashboard,
    requests,
    complaints,
    subjects,
    log,
    destructions,
    incidents,
    staff,
    policy,
):
    router.include_router(_area.router)


def guard_of(route: APIRoute) -> Guard | None:
    """The guard a console route declares, or None when it declares none."""
    for dependency in route.dependant.dependencies:
        if isinstance(dependency.call, Guard):
            return dependency.call
    return None


def routes_of(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route in ``routes`` (an application's), inside included routers too."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI keeps an included router as one entry holding the router it includes.
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from routes_of(inner.routes)
