"""Dependencies shared by the routers: the engine, the caller, the client address, path ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from haechi.access.decision import Actor
from haechi.api.schemas import ErrorOut
from haechi.config import ServerSettings
from haechi.engine import Engine
from haechi.errors import PermissionDenied

__all__ = [
    "ERRORS",
    "ActorDep",
    "BearerDep",
    "Caller",
    "CallerDep",
    "EngineDep",
    "IdPath",
    "IpDep",
    "LaneDep",
    "caller",
    "client_ip",
    "current_actor",
    "get_engine",
    "in_lane",
    "lane_of",
    "lane_size",
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


async def get_engine(request: Request) -> Engine:
    """The engine of this application (``async``: no thread-pool hop for a lookup)."""
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
T = TypeVar("T")


def lane_size(server: ServerSettings, dialect: str) -> int:
    """How many collections a server process works on at once (the collections' lane).

    ``server.collect_threads``, or by default one on SQLite and ``server.threads`` on
    PostgreSQL. On SQLite a collection's work before its write (validation, the
    identifier scan, seven seals) is Python under the interpreter lock, and its write
    takes the database's one write lock: collections in several threads at once
    overlap little, and hand the interpreter lock to each other at every call into
    SQLite, the kernel or OpenSSL, which costs more CPU than the overlap saves
    (measured in ``docs/benchmarks.md``). Reads keep every thread: theirs is short
    work, and their log events commit together. On PostgreSQL a request waits for
    its server at every statement, and other requests use that wait.
    """
    if server.collect_threads is not None:
        return server.collect_threads
    return 1 if dialect == "sqlite" else server.threads


async def in_lane(lane: CapacityLimiter, work: Callable[[], T]) -> T:
    """Run ``work`` in a request thread once ``lane`` has room (see :func:`lane_size`).

    A request waiting for room holds no thread; the thread itself comes from the
    request threads' own limiter (``server.threads``), so the pool is never exceeded.
    """
    async with lane:
        return await to_thread.run_sync(work)


def lane_of(state: Any) -> CapacityLimiter:
    """The application's lane of collections: made at start-up, or at first use.

    ``state`` is the application's state; an application called without its lifespan
    (mounted in another, or driven by a test) makes its lane at its first collection.
    """
    lane: CapacityLimiter | None = getattr(state, "lane", None)
    if lane is None:
        engine: Engine = state.engine
        lane = CapacityLimiter(lane_size(engine.settings.server, engine.database.dialect.name))
        state.lane = lane
    return lane


async def get_lane(request: Request) -> CapacityLimiter:
    """The application's lane of collections (see :func:`lane_of`)."""
    return lane_of(request.app.state)


LaneDep = Annotated[CapacityLimiter, Depends(get_lane)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def secret_of(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer secret, or a refusal when none was sent."""
    if credentials is None:
        raise PermissionDenied("a bearer token is required", code="UNAUTHENTICATED")
    return credentials.credentials


async def client_ip(request: Request) -> str | None:
    """The caller's address, as :class:`haechi.api.middleware.ClientAddress` resolved it."""
    return request.client.host if request.client else None


IpDep = Annotated[str | None, Depends(client_ip)]


@dataclass(frozen=True)
class Caller:
    """The bearer secret and address of a request, authenticated where the work runs.

    The hot routes (collect, read) take this instead of :data:`ActorDep` and call
    :meth:`actor` in their own worker thread, from an ``async`` endpoint: one thread-pool
    hop per request instead of three (``current_actor``, a sync endpoint, and FastAPI's
    check of a sync endpoint's response; see docs/benchmarks.md). A request without a
    bearer secret is refused here, before its body is looked at; a bad secret is refused
    after the body's validation, which the size limit has already bounded.
    """

    secret: str
    ip: str | None

    def actor(self, engine: Engine) -> Actor:
        """The actor behind the secret, as it stands now."""
        return engine.authenticate(self.secret, source_ip=self.ip)


async def caller(credentials: BearerDep, ip: IpDep) -> Caller:
    """The request's :class:`Caller` (no database work, so no thread-pool hop)."""
    return Caller(secret_of(credentials), ip)


CallerDep = Annotated[Caller, Depends(caller)]


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
