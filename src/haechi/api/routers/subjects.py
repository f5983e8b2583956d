"""Subjects: read a subject's items for a purpose, find a subject by email or phone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, Field
from starlette.concurrency import run_in_threadpool

from haechi.api.deps import ERRORS, ActorDep, Caller, CallerDep, EngineDep, IdPath, IpDep
from haechi.api.schemas import MAX_ITEMS, MAX_NAME, ItemsPublic, LookupIn, LookupOut, plain
from haechi.engine import Engine

__all__ = ["read_items_now", "router"]

router = APIRouter(prefix="/api/v1", responses=ERRORS)


def read_items_now(
    engine: Engine,
    caller: Caller,
    *,
    subject_id: str,
    purpose: str,
    item: list[str] | None = None,
    reason: str | None = None,
    download: bool = False,
) -> ItemsPublic:
    """The read itself, in a worker thread: authenticate, then decide, log and decrypt.

    Called by the route below and by :mod:`haechi.api.hot` (the read's plain form).
    """
    values = engine.use(
        actor=caller.actor(engine),
        subject_id=subject_id,
        purpose=purpose,
        items=item,
        reason=reason,
        source_ip=caller.ip,
        download=download,
    )
    return ItemsPublic(subject_id=subject_id, purpose=purpose, items=values)


@router.get("/subjects/{subject_id}/items", response_model=ItemsPublic)
async def read_items(
    subject_id: IdPath,
    engine: EngineDep,
    caller: CallerDep,
    purpose: Annotated[str, Query(min_length=1, max_length=63)],
    item: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=MAX_NAME)]] | None,
        Query(max_length=MAX_ITEMS, description="Items to read; all by default."),
    ] = None,
    reason: Annotated[str | None, Query(max_length=500), AfterValidator(plain)] = None,
    download: Annotated[
        bool, Query(description="The data leaves the system (a file): needs a reason.")
    ] = False,
) -> ItemsPublic:
    """Read a subject's items for one purpose: decided, logged, then decrypted."""
    # Authentication and the read in one worker thread: a single hop (see deps.Caller).
    return await run_in_threadpool(
        read_items_now,
        engine,
        caller,
        subject_id=subject_id,
        purpose=purpose,
        item=item,
        reason=reason,
        download=download,
    )


@router.post("/subjects/lookup", response_model=LookupOut)
def lookup(body: LookupIn, engine: EngineDep, actor: ActorDep, ip: IpDep) -> LookupOut:
    """Find a subject by email or phone through the blind index."""
    return LookupOut(
        subject_id=engine.find_subject(actor=actor, kind=body.kind, value=body.value, source_ip=ip)
    )
