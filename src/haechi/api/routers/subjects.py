"""Subjects: read a subject's items for a purpose, find a subject by email or phone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, Field

from haechi.api.deps import ERRORS, ActorDep, EngineDep, IdPath, IpDep
from haechi.api.schemas import MAX_ITEMS, MAX_NAME, ItemsPublic, LookupIn, LookupOut, plain

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERRORS)


@router.get("/subjects/{subject_id}/items", response_model=ItemsPublic)
def read_items(
    subject_id: IdPath,
    engine: EngineDep,
    actor: ActorDep,
    ip: IpDep,
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
    values = engine.use(
        actor=actor,
        subject_id=subject_id,
        purpose=purpose,
        items=item,
        reason=reason,
        source_ip=ip,
        download=download,
    )
    return ItemsPublic(subject_id=subject_id, purpose=purpose, items=values)


@router.post("/subjects/lookup", response_model=LookupOut)
def lookup(body: LookupIn, engine: EngineDep, actor: ActorDep, ip: IpDep) -> LookupOut:
    """Find a subject by email or phone through the blind index."""
    return LookupOut(
        subject_id=engine.find_subject(actor=actor, kind=body.kind, value=body.value, source_ip=ip)
    )
