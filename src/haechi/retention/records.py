"""Destruction records: batches awaiting the privacy officer, certificates, paper.

Every function takes an open connection and never commits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, case, insert, select, update

from haechi.access.decision import CollectionState
from haechi.errors import Conflict, InvalidInput, NotFound
from haechi.policy.published import PaperDestruction
from haechi.storage.tables import (
    collections,
    destruction_batches,
    destruction_certificates,
    paper_destructions,
)

__all__ = [
    "BatchInfo",
    "Certificate",
    "PaperMethod",
    "PaperRecord",
    "certificate_for",
    "certificates",
    "certify_manual",
    "confirm_batch",
    "get_batch",
    "list_batches",
    "list_paper",
    "mark_accomplished",
    "record_paper",
]


# How paper documents are destroyed (Decree Art. 16(1)2): the methods a policy may
# declare; record_paper takes only those the policy in force declares.
PaperMethod = PaperDestruction


@dataclass(frozen=True)
class BatchInfo:
    """One sweep's destructions, and the privacy officer's confirmation if given."""

    id: str
    created_at: datetime
    created_by: str
    destroyed: int
    confirmed_by: str | None
    confirmed_at: datetime | None

    @property
    def awaiting_confirmation(self) -> bool:
        """Whether the privacy officer has yet to confirm it."""
        return self.confirmed_at is None


@dataclass(frozen=True)
class Certificate:
    """What was destroyed, when and how, and who confirmed it: ids and item names only."""

    id: str
    batch_id: str
    collection_id: str
    subject_id: str
    purpose: str
    items: list[str]
    method: str
    reason: str
    due_at: datetime
    destroyed_at: datetime
    overdue: bool
    confirmed_by: str | None
    confirmed_at: datetime | None


@dataclass(frozen=True)
class PaperRecord:
    """Paper documents destroyed: what, how, by whom, before whom."""

    id: str
    description: str
    method: PaperMethod
    destroyed_by: str
    witness: str
    destroyed_at: datetime
    recorded_at: datetime


def mark_accomplished(connection: Connection, *, collection_id: str, now: datetime) -> None:
    """Record that a collection's purpose is accomplished: destruction falls due now."""
    row = connection.execute(
        select(collections.c.state, collections.c.accomplished_at)
        .where(collections.c.id == collection_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("no such collection", field="collection_id")
    if row.state in (CollectionState.DESTROYED.value, CollectionState.SEPARATED.value):
        raise Conflict(f"the collection is {row.state}", code="COLLECTION_NOT_ACTIVE")
    if row.accomplished_at is not None:
        # Its first date stands: a second call must not move the record later.
        raise Conflict("the purpose is already accomplished", code="ALREADY_ACCOMPLISHED")
    connection.execute(
        update(collections)
        .where(collections.c.id == collection_id)
        .values(
            accomplished_at=now,
            updated_at=now,
            due_at=case((collections.c.due_at > now, now), else_=collections.c.due_at),
        )
    )


def _batch(row: Row[Any]) -> BatchInfo:
    return BatchInfo(
        id=row.id,
        created_at=row.created_at,
        created_by=row.created_by,
        destroyed=row.destroyed,
        confirmed_by=row.confirmed_by,
        confirmed_at=row.confirmed_at,
    )


def list_batches(connection: Connection, *, awaiting_only: bool = False) -> list[BatchInfo]:
    """Destruction batches, newest first; those awaiting confirmation when asked."""
    query = select(destruction_batches).order_by(destruction_batches.c.created_at.desc())
    if awaiting_only:
        query = query.where(destruction_batches.c.confirmed_at.is_(None))
    return [_batch(row) for row in connection.execute(query)]


def get_batch(connection: Connection, *, batch_id: str) -> BatchInfo:
    """One destruction batch; NotFound if there is none."""
    row = connection.execute(
        select(destruction_batches).where(destruction_batches.c.id == batch_id)
    ).first()
    if row is None:
        raise NotFound("no such destruction batch", field="batch_id")
    return _batch(row)


def confirm_batch(
    connection: Connection, *, batch_id: str, confirmed_by: str, now: datetime
) -> BatchInfo:
    """Record the privacy officer's confirmation on a batch and on each of its certificates."""
    if not confirmed_by.strip():
        raise InvalidInput("the confirming officer's name is required", field="by")
    row = connection.execute(
        select(destruction_batches).where(destruction_batches.c.id == batch_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("no such destruction batch", field="batch_id")
    if row.confirmed_at is not None:
        raise Conflict("this destruction batch is already confirmed", code="ALREADY_CONFIRMED")
    connection.execute(
        update(destruction_batches)
        .where(destruction_batches.c.id == batch_id)
        .values(confirmed_by=confirmed_by, confirmed_at=now)
    )
    connection.execute(
        update(destruction_certificates)
        .where(destruction_certificates.c.batch_id == batch_id)
        .values(confirmed_by=confirmed_by, confirmed_at=now)
    )
    confirmed = connection.execute(
        select(destruction_batches).where(destruction_batches.c.id == batch_id)
    ).one()
    return _batch(confirmed)


def certificates(
    connection: Connection, *, batch_id: str | None = None, limit: int | None = 1000
) -> list[Certificate]:
    """Certificates, newest first (in id order within a time), optionally of one batch."""
    query = (
        select(destruction_certificates)
        .order_by(destruction_certificates.c.destroyed_at.desc(), destruction_certificates.c.id)
        .limit(limit)
    )
    if batch_id is not None:
        query = query.where(destruction_certificates.c.batch_id == batch_id)
    return [
        Certificate(
            id=row.id,
            batch_id=row.batch_id,
            collection_id=row.collection_id,
            subject_id=row.subject_id,
            purpose=row.purpose,
            items=json.loads(row.items),
            method=row.method,
            reason=row.reason,
            due_at=row.due_at,
            destroyed_at=row.destroyed_at,
            overdue=bool(row.overdue),
            confirmed_by=row.confirmed_by,
            confirmed_at=row.confirmed_at,
        )
        for row in connection.execute(query)
    ]


def certificate_for(connection: Connection, collection_id: str) -> str | None:
    """The id of the certificate of a destroyed collection, if it has one."""
    value = connection.execute(
        select(destruction_certificates.c.id).where(
            destruction_certificates.c.collection_id == collection_id
        )
    ).scalar_one_or_none()
    return None if value is None else str(value)


def record_paper(
    connection: Connection,
    *,
    description: str,
    method: str,
    destroyed_by: str,
    witness: str,
    destroyed_at: datetime,
    now: datetime,
    declared: Sequence[PaperMethod] = tuple(PaperMethod),
) -> PaperRecord:
    """Register destroyed paper documents (the description names documents, never values).

    ``declared``: the paper methods the policy declares; any other is refused.
    """
    allowed = [method.value for method in declared]
    if method not in allowed:
        declared_text = " or ".join(allowed) or "none"
        raise InvalidInput(
            f"method must be one the policy declares ({declared_text})", field="method"
        )
    paper_method = PaperMethod(method)
    for name, value, limit in (
        ("what", description, 500),
        ("by", destroyed_by, 100),
        ("witness", witness, 100),
    ):
        if not value.strip() or len(value) > limit:
            raise InvalidInput(f"{name} must be 1-{limit} characters", field=name)
    if witness.strip() == destroyed_by.strip():
        raise InvalidInput("the witness must be another person", field="witness")
    if destroyed_at > now:
        # A record of what was done, not of what will be.
        raise InvalidInput("at must not be in the future", field="at")
    record = PaperRecord(
        id=str(uuid.uuid4()),
        description=description.strip(),
        method=paper_method,
        destroyed_by=destroyed_by.strip(),
        witness=witness.strip(),
        destroyed_at=destroyed_at,
        recorded_at=now,
    )
    connection.execute(
        insert(paper_destructions).values(
            id=record.id,
            description=record.description,
            method=record.method.value,
            destroyed_by=record.destroyed_by,
            witness=record.witness,
            destroyed_at=record.destroyed_at,
            recorded_at=record.recorded_at,
        )
    )
    return record


def list_paper(connection: Connection) -> list[PaperRecord]:
    """Paper destructions, newest first."""
    return [
        PaperRecord(
            id=row.id,
            description=row.description,
            method=PaperMethod(row.method),
            destroyed_by=row.destroyed_by,
            witness=row.witness,
            destroyed_at=row.destroyed_at,
            recorded_at=row.recorded_at,
        )
        for row in connection.execute(
            select(paper_destructions).order_by(paper_destructions.c.destroyed_at.desc())
        )
    ]


def certify_manual(
    connection: Connection,
    *,
    collection_id: str,
    subject_id: str,
    purpose: str,
    item_names: list[str],
    destroyed_by: str,
    reason: str = "manual",
    now: datetime,
) -> str:
    """Certify a destruction done outside a sweep, in a batch of its own; return its id."""
    batch_id = str(uuid.uuid4())
    certificate_id = str(uuid.uuid4())
    connection.execute(
        insert(destruction_batches).values(
            id=batch_id, created_at=now, created_by=destroyed_by, destroyed=1
        )
    )
    connection.execute(
        insert(destruction_certificates).values(
            id=certificate_id,
            batch_id=batch_id,
            collection_id=collection_id,
            subject_id=subject_id,
            purpose=purpose,
            items=json.dumps(sorted(item_names)),
            method="crypto-shred",
            reason=reason,
            due_at=now,
            destroyed_at=now,
            overdue=False,
        )
    )
    return certificate_id
