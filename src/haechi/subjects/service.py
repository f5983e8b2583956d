"""Subjects and their collections: the service functions the engine calls.

Validating a collection lives in :mod:`haechi.subjects.collecting`, storing one in
:mod:`haechi.subjects.collector`, subject identity and lookups in
:mod:`haechi.subjects.matching`; this module holds a collection's metadata and its
state changes (holds, suspension, withdrawal of consent) and re-exports the rest, so
callers import one module. Every function takes an open connection and never
commits: the caller owns the transaction, so a change and its audit event land
together or not at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, insert, select, update

from haechi.access.decision import CollectionState
from haechi.errors import Conflict, NotFound
from haechi.policy.loader import LoadedPolicy
from haechi.storage.tables import collections, consents, holds
from haechi.subjects.collecting import validate_collection
from haechi.subjects.matching import find_subject
from haechi.subjects.models import CollectionInfo, CollectResult, ConsentEvidence, SubjectLookup

__all__ = [
    "CollectResult",
    "CollectionInfo",
    "ConsentEvidence",
    "SubjectLookup",
    "find_subject",
    "get_collection",
    "place_hold",
    "release_hold",
    "set_suspended",
    "subject_collections",
    "validate_collection",
    "withdraw_consent",
]


def get_collection(connection: Connection, collection_id: str) -> CollectionInfo:
    """A collection's metadata; NotFound if there is none."""
    row = connection.execute(select(collections).where(collections.c.id == collection_id)).first()
    if row is None:
        raise NotFound("no such collection", field="collection_id")
    return _info(row)


def subject_collections(
    connection: Connection, subject_id: str, *, limit: int = 100
) -> list[CollectionInfo]:
    """A subject's collections, newest first (metadata only)."""
    rows = connection.execute(
        select(collections)
        .where(collections.c.subject_id == subject_id)
        .order_by(collections.c.collected_at.desc(), collections.c.id)
        .limit(limit)
    )
    return [_info(row) for row in rows]


def _info(row: Any) -> CollectionInfo:
    return CollectionInfo(
        id=row.id,
        subject_id=row.subject_id,
        purpose=row.purpose,
        state=CollectionState(row.state),
        consented=bool(row.consented),
        policy_version=row.policy_version,
        collected_at=row.collected_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        channel=row.channel,
        due_at=row.due_at,
        accomplished_at=row.accomplished_at,
    )


def place_hold(
    connection: Connection, *, collection_id: str, reason: str, placed_by: str, now: datetime
) -> str:
    """Stop all use of a collection until the hold is released (e.g. a pending correction)."""
    get_collection(connection, collection_id)
    hold_id = str(uuid.uuid4())
    connection.execute(
        insert(holds).values(
            id=hold_id,
            collection_id=collection_id,
            reason=reason,
            placed_by=placed_by,
            placed_at=now,
        )
    )
    return hold_id


def release_hold(
    connection: Connection, *, collection_id: str, hold_id: str, now: datetime
) -> None:
    """Release a hold of ``collection_id``; use resumes when no other hold remains."""
    # The hold must belong to the collection whose purpose the caller was checked for.
    result = connection.execute(
        update(holds)
        .where(
            holds.c.id == hold_id,
            holds.c.collection_id == collection_id,
            holds.c.released_at.is_(None),
        )
        .values(released_at=now)
    )
    if result.rowcount == 0:
        raise NotFound("no such active hold", field="hold_id")


def set_suspended(
    connection: Connection, *, collection_id: str, suspended: bool, now: datetime
) -> None:
    """Suspend processing of a collection at the subject's request, or lift it."""
    info = get_collection(connection, collection_id)
    allowed_from = CollectionState.ACTIVE if suspended else CollectionState.SUSPENDED
    if info.state is not allowed_from:
        raise Conflict(f"the collection is {info.state.value}", code="COLLECTION_NOT_ACTIVE")
    target = CollectionState.SUSPENDED if suspended else CollectionState.ACTIVE
    connection.execute(
        update(collections)
        .where(collections.c.id == collection_id)
        .values(state=target.value, updated_at=now)
    )


def withdraw_consent(
    connection: Connection,
    *,
    policy: LoadedPolicy,
    collection_id: str,
    method: str,
    source_ip: str | None,
    now: datetime,
) -> None:
    """Record a withdrawal of consent; use stops at once."""
    info = get_collection(connection, collection_id)
    if info.state is CollectionState.DESTROYED:
        raise Conflict("the collection is destroyed", code="COLLECTION_NOT_ACTIVE")
    connection.execute(
        update(collections)
        .where(collections.c.id == collection_id)
        .values(
            consented=False,
            updated_at=now,
            # Destruction falls due at once (within the policy's grace).
            due_at=case((collections.c.due_at > now, now), else_=collections.c.due_at),
        )
    )
    connection.execute(
        insert(consents).values(
            id=str(uuid.uuid4()),
            subject_id=info.subject_id,
            collection_id=collection_id,
            purpose=info.purpose,
            granted=False,
            method=method,
            source_ip=source_ip,
            text_hash=None,
            policy_version=policy.version_id,
            recorded_at=now,
        )
    )
