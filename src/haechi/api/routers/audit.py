"""The access log: signed tree heads, alerts, the monthly review, inclusion proofs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import BigInteger

from haechi.access.staff import Role, require_role
from haechi.api.deps import ERRORS, ActorDep, EngineDep
from haechi.api.schemas import TreeHeadOut
from haechi.errors import NotFound
from haechi.storage.tables import audit_leaves

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERRORS)

_LOG_READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR)
# The largest id the event columns can hold: a larger one is no event of the log, and
# is never sent to a database that would refuse it as out of range.
_LARGEST_EVENT_ID = 2**63 - 1 if isinstance(audit_leaves.c.event_id.type, BigInteger) else 2**31 - 1


@router.get("/audit/heads", response_model=list[TreeHeadOut], tags=["audit"])
def tree_heads(
    engine: EngineDep, since: Annotated[int, Query(ge=0, description="Only larger heads.")] = 0
) -> list[TreeHeadOut]:
    """Signed tree heads of the access log (public: sizes, roots and signatures only)."""
    return [
        TreeHeadOut.model_validate(head.to_json())
        for head in engine.tree_heads()
        if head.size > since
    ]


@router.get("/alerts", tags=["audit"])
def list_alerts(engine: EngineDep, actor: ActorDep) -> list[dict[str, object]]:
    """Alerts raised by the access-log monitors (privacy officer and auditors)."""
    require_role(actor, *_LOG_READERS)
    return [alert.to_json() for alert in engine.alerts()]


@router.get("/audit/review/{month}", tags=["audit"])
def monthly_review(
    month: Annotated[str, Path(max_length=20)], engine: EngineDep, actor: ActorDep
) -> dict[str, object]:
    """A month's accesses per actor with its alerts (privacy officer and auditors)."""
    require_role(actor, *_LOG_READERS)
    return engine.review(month).to_json()


@router.get("/audit/events/{event_id}/proof", tags=["audit"])
def event_proof(
    event_id: Annotated[int, Path(ge=1, le=2**63 - 1)], engine: EngineDep, actor: ActorDep
) -> dict[str, object]:
    """Inclusion proof of one audit event in the newest signed head (log readers).

    For the privacy officer and auditors, as the rest of the log: building a proof
    reads the tree's stored hashes (seconds for millions of events), and an event's
    hashes are the log's, not a client's.
    """
    require_role(actor, *_LOG_READERS)
    if event_id > _LARGEST_EVENT_ID:
        raise NotFound(f"event {event_id} is not in the log", field="event_id")
    return engine.prove(event_id).to_json()
