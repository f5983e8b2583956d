"""Dependencies shared by the routers: the engine, the caller, the client address, path ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from haechi.access.decision import Actor
from haechi.api.schemas import ErrorOut
from haechi.engine import Engine
from haechi.errors import PermissionDenied

__all__ = [
    "ERRORS",
    "ActorDep",
    "BearerDep",
    "EngineDep",
    "IdPath",
    "IpDep",
    "client_ip",
    "current_actor",
    "get_engine",
    "password_changer",
    "secret_of",
]

_bearer = HTTPBearer(
    auto_error=False,
    description=(
        "An API token made by `haechi tokens create` (hct_…), or a staff session "
        "from POST /api/v1/auth/login (hcs_…)."
    ),
)

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422)
}


def get_engine(request: Request) -> Engine:
    """The engine of this application."""
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def secret_of(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer secret, or a refusal when none was sent."""
    if credentials is None:
        raise PermissionDenied("a bearer token is required", code="UNAUTHENTICATED")
    return credentials.credentials


def client_ip(request: Request) -> str | None:
    """The caller's address, as :class:`haechi.api.middleware.ClientAddress` resolved it."""
    return request.client.host if request.client else None


IpDep = Annotated[str | None, Depends(client_ip)]


def current_actor(engine: EngineDep, credentials: BearerDep, ip: IpDep) -> Actor:
    """The actor behind the request's bearer token or staff session, looked up on every call.

    It carries the request's address, so every event it causes records where it came from.
    """
    return engine.authenticate(secret_of(credentials), source_ip=ip)


def password_changer(engine: EngineDep, credentials: BearerDep, ip: IpDep) -> Actor:
    """Like :func:`current_actor`, but also a session still on a one-time password."""
    return engine.authenticate(secret_of(credentials), password_change=True, source_ip=ip)


ActorDep = Annotated[Actor, Depends(current_actor)]
# Subject and collection ids are UUIDs; anything longer is refused before the database.
IdPath = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9A-Za-z-]+$")]
