"""The HTTP API: a thin FastAPI surface over :class:`haechi.Engine`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from haechi.access.decision import Actor
from haechi.api.errors import install_error_handlers
from haechi.api.schemas import (
    CollectionCreate,
    CollectionCreated,
    CollectionDestroyed,
    CollectionPublic,
    ErrorOut,
    ItemsPublic,
    LookupIn,
    LookupOut,
    WithdrawIn,
)
from haechi.config import Settings
from haechi.engine import Engine
from haechi.errors import PermissionDenied
from haechi.subjects.service import ConsentEvidence

__all__ = ["create_app"]

_bearer = HTTPBearer(auto_error=False, description="An API token made by `haechi tokens create`.")

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422)
}


def get_engine(request: Request) -> Engine:
    """The engine of this application."""
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def current_actor(
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor behind the request's bearer token, looked up on every call."""
    if credentials is None:
        raise PermissionDenied("a bearer token is required", code="UNAUTHENTICATED")
    return engine.authenticate(credentials.credentials)


ActorDep = Annotated[Actor, Depends(current_actor)]


def client_ip(request: Request) -> str | None:
    """The caller's address (X-Forwarded-For only when the settings trust a proxy)."""
    engine: Engine = request.app.state.engine
    if engine.settings.server.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:45]
    return request.client.host if request.client else None


IpDep = Annotated[str | None, Depends(client_ip)]

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


@router.post("/collections", status_code=status.HTTP_201_CREATED, response_model=CollectionCreated)
def create_collection(
    body: CollectionCreate, engine: EngineDep, actor: ActorDep, ip: IpDep
) -> CollectionCreated:
    """Collect a subject's items for one purpose, with consent evidence."""
    result = engine.collect(
        purpose=body.purpose,
        items=body.items,
        consent=ConsentEvidence(
            granted=body.consent.granted,
            method=body.consent.method,
            text_hash=body.consent.text_hash,
            source_ip=ip,
        ),
        channel=body.channel,
        source=body.source,
        actor=actor,
    )
    return CollectionCreated(
        subject_id=result.subject_id,
        collection_id=result.collection_id,
        expires_at=result.expires_at,
        created=result.created,
    )


@router.get("/collections/{collection_id}", response_model=CollectionPublic | CollectionDestroyed)
def read_collection(
    collection_id: str, engine: EngineDep, actor: ActorDep
) -> CollectionPublic | CollectionDestroyed:
    """A collection's state and dates; a destroyed one shows its state and certificate only."""
    info = engine.collection(collection_id, actor=actor)
    if info.state.value == "destroyed":
        return CollectionDestroyed(
            id=info.id, state=info.state.value, certificate_id=engine.certificate_for(info.id)
        )
    return CollectionPublic(
        id=info.id,
        subject_id=info.subject_id,
        purpose=info.purpose,
        state=info.state.value,
        consented=info.consented,
        policy_version=info.policy_version,
        collected_at=info.collected_at,
        updated_at=info.updated_at,
        expires_at=info.expires_at,
    )


@router.post("/collections/{collection_id}/withdraw", status_code=status.HTTP_204_NO_CONTENT)
def withdraw(
    collection_id: str, body: WithdrawIn, engine: EngineDep, actor: ActorDep, ip: IpDep
) -> None:
    """Record the subject's withdrawal of consent; use stops at once."""
    engine.withdraw_consent(collection_id, method=body.method, source_ip=ip, actor=actor)


@router.post("/collections/{collection_id}/accomplished", status_code=status.HTTP_204_NO_CONTENT)
def accomplished(collection_id: str, engine: EngineDep, actor: ActorDep) -> None:
    """Record that the collection's purpose is accomplished; it is destroyed within the grace."""
    engine.mark_accomplished(collection_id, actor=actor)


@router.get("/subjects/{subject_id}/items", response_model=ItemsPublic)
def read_items(
    subject_id: str,
    engine: EngineDep,
    actor: ActorDep,
    ip: IpDep,
    purpose: Annotated[str, Query(min_length=1, max_length=63)],
    item: Annotated[list[str] | None, Query(description="Items to read; all by default.")] = None,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> ItemsPublic:
    """Read a subject's items for one purpose: decided, logged, then decrypted."""
    values = engine.use(
        actor=actor,
        subject_id=subject_id,
        purpose=purpose,
        items=item,
        reason=reason,
        source_ip=ip,
    )
    return ItemsPublic(subject_id=subject_id, purpose=purpose, items=values)


@router.post("/subjects/lookup", response_model=LookupOut)
def lookup(body: LookupIn, engine: EngineDep, actor: ActorDep, ip: IpDep) -> LookupOut:
    """Find a subject by email or phone through the blind index."""
    return LookupOut(
        subject_id=engine.find_subject(actor=actor, kind=body.kind, value=body.value, source_ip=ip)
    )


@router.get("/health", include_in_schema=False)
def health() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok"}


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The application; opens an engine from ``settings`` unless one is given."""
    if engine is None and settings is None:
        raise ValueError("create_app needs settings or an engine")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        app.state.engine = engine if engine is not None else Engine.open(settings)  # type: ignore[arg-type]
        try:
            yield
        finally:
            if owned:
                app.state.engine.close()

    app = FastAPI(
        title="Haechi",
        summary="Personal-information custody engine",
        version="0.1.0",
        lifespan=lifespan,
    )
    if engine is not None:
        app.state.engine = engine
    install_error_handlers(app)
    app.include_router(router)
    return app
