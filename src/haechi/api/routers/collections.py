"""Collections: collect, read a collection's state, withdraw consent, mark accomplished."""

from __future__ import annotations

from fastapi import APIRouter, status

from haechi.api.deps import (
    ERRORS,
    ActorDep,
    Caller,
    CallerDep,
    EngineDep,
    IdPath,
    IpDep,
    LaneDep,
    in_lane,
)
from haechi.api.schemas import (
    CollectionCreate,
    CollectionCreated,
    CollectionDestroyed,
    CollectionPublic,
    WithdrawIn,
)
from haechi.engine import Engine

__all__ = ["collect_now", "router"]

router = APIRouter(prefix="/api/v1", responses=ERRORS)


def collect_now(engine: Engine, caller: Caller, body: CollectionCreate) -> CollectionCreated:
    """The collection itself, in a worker thread: authenticate, then collect.

    Called by the route below and by :mod:`haechi.api.hot` (the plain form of the call).
    """
    result = engine.collect(
        purpose=body.purpose,
        items=body.items,
        consent=body.consent.evidence(caller.ip),
        channel=body.channel,
        source=body.source,
        actor=caller.actor(engine),
    )
    return CollectionCreated(
        subject_id=result.subject_id,
        collection_id=result.collection_id,
        expires_at=result.expires_at,
        created=result.created,
    )


@router.post("/collections", status_code=status.HTTP_201_CREATED, response_model=CollectionCreated)
async def create_collection(
    body: CollectionCreate, engine: EngineDep, caller: CallerDep, lane: LaneDep
) -> CollectionCreated:
    """Collect a subject's items for one purpose, with consent evidence."""
    # Authentication and the collection in one worker thread (see deps.Caller).
    return await in_lane(lane, lambda: collect_now(engine, caller, body))


@router.get("/collections/{collection_id}", response_model=CollectionPublic | CollectionDestroyed)
def read_collection(
    collection_id: IdPath, engine: EngineDep, actor: ActorDep
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
        due_at=info.due_at,
        accomplished_at=info.accomplished_at,
    )


@router.post("/collections/{collection_id}/withdraw", status_code=status.HTTP_204_NO_CONTENT)
def withdraw(
    collection_id: IdPath, body: WithdrawIn, engine: EngineDep, actor: ActorDep, ip: IpDep
) -> None:
    """Record the subject's withdrawal of consent; use stops at once."""
    engine.withdraw_consent(collection_id, method=body.method, source_ip=ip, actor=actor)


@router.post("/collections/{collection_id}/accomplished", status_code=status.HTTP_204_NO_CONTENT)
def accomplished(collection_id: IdPath, engine: EngineDep, actor: ActorDep) -> None:
    """Record that the collection's purpose is accomplished; it is destroyed within the grace."""
    engine.mark_accomplished(collection_id, actor=actor)
