"""The read path of ``use()``: decide, log, then decrypt — in one transaction.

This is the hottest path of Haechi, so its statements are prepared once per dialect
(:mod:`haechi.storage.prepared`) and run on the transaction's cursor: one SELECT
gathers the collection, its holds, its wrapped key and its items; one INSERT records
the decision. A refusal is returned rather than raised, so that the caller commits the
audit event before raising it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.engine import Dialect

from haechi.access.decision import Actor, CollectionState, CollectionView, decide
from haechi.audit.events import declared_names, event_values, prepared_insert
from haechi.crypto.envelope import Sealer, item_context
from haechi.crypto.epochs import Store
from haechi.crypto.keys import KeyProvider
from haechi.errors import AccessDenied, HaechiError, NotFound
from haechi.policy.schema import Policy, split_hold_purpose
from haechi.storage.keyring import open_data_key
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import (
    collections,
    data_keys,
    holds,
    items,
    separated_items,
    separated_keys,
    subjects,
)

__all__ = ["ItemReader", "ReadOutcome"]

_ACTIVE_HOLDS = (
    select(func.count())
    .where(holds.c.collection_id == collections.c.id, holds.c.released_at.is_(None))
    .correlate(collections)
    .scalar_subquery()
)


def _read_statement(keys: Table, sealed_items: Table) -> Select[Any]:
    """Every row of a subject × purpose, with its key and items from the given store."""
    return (
        select(
            collections.c.id,
            collections.c.state,
            collections.c.expires_at,
            collections.c.consented,
            collections.c.collected_at,
            _ACTIVE_HOLDS.label("active_holds"),
            keys.c.wrapped,
            sealed_items.c.name,
            sealed_items.c.sealed,
            collections.c.hold_until,
            collections.c.due_at,
            collections.c.accomplished_at,
            collections.c.key_version,
            keys.c.key_id,
        )
        .select_from(
            collections.outerjoin(keys, keys.c.collection_id == collections.c.id).outerjoin(
                sealed_items, sealed_items.c.collection_id == collections.c.id
            )
        )
        .where(
            collections.c.subject_id == bindparam("subject_id"),
            collections.c.purpose == bindparam("purpose"),
        )
    )


_READ = _read_statement(data_keys, items)
# Reads for a legal hold's purpose (``hold:<purpose>``) open the separated store.
_READ_SEPARATED = _read_statement(separated_keys, separated_items)
(_ID, _STATE, _EXPIRES, _CONSENTED, _COLLECTED, _HOLDS, _WRAPPED, _NAME, _SEALED, _HOLD_UNTIL) = (
    range(10)
)
_DUE, _ACCOMPLISHED, _KEY_VERSION, _KEY_ID = 10, 11, 12, 13

_SUBJECT = select(subjects.c.id).where(subjects.c.id == bindparam("subject_id"))


@dataclass(frozen=True)
class ReadOutcome:
    """A read's audit event, and either its values or the refusal to raise after commit."""

    event_id: int
    error: HaechiError | None
    values: dict[str, str] = field(default_factory=dict)


class ItemReader:
    """Reads items for one dialect with statements prepared once."""

    def __init__(self, dialect: Dialect):
        self._read = PreparedStatement(_READ, dialect)
        self._read_separated = PreparedStatement(_READ_SEPARATED, dialect)
        self._subject = PreparedStatement(_SUBJECT, dialect)
        self._log = prepared_insert(dialect)

    def read(
        self,
        cursor: Any,
        *,
        policy: Policy,
        keys: KeyProvider,
        actor: Actor,
        subject_id: str,
        purpose: str,
        wanted: list[str] | None,
        reason: str | None,
        source_ip: str | None,
        now: datetime,
        action: str = "view",
    ) -> ReadOutcome:
        """Decide, record the decision, then (only if allowed) open the items."""
        base, for_hold = split_hold_purpose(purpose)
        statement = self._read_separated if for_hold else self._read
        rows = statement.fetch(cursor, {"subject_id": subject_id, "purpose": base}, convert=False)
        chosen = _current_collection(rows, statement.convert, for_hold=for_hold)
        declared = policy.purpose(base)
        if wanted is not None:
            names = sorted(set(wanted))
        else:
            names = sorted(declared.all_items) if declared is not None else []
        view = None
        if chosen:
            head = statement.convert(chosen[0])
            view = CollectionView(
                state=CollectionState(head[_STATE]),
                expires_at=head[_EXPIRES],
                consented=bool(head[_CONSENTED]),
                active_holds=int(head[_HOLDS]),
                hold_until=head[_HOLD_UNTIL],
                due_at=head[_DUE],
                accomplished_at=head[_ACCOMPLISHED],
            )
        decision = decide(
            actor=actor, policy=policy, purpose=purpose, items=names, collection=view, now=now
        )
        known = bool(rows) or bool(self._subject.fetch(cursor, {"subject_id": subject_id}))
        event = event_values(
            now=now,
            actor=actor.name,
            actor_kind=actor.kind,
            action=action,
            outcome="allowed" if decision.allowed and known else "denied",
            code=(decision.reason.value if decision.reason else None) if known else "NOT_FOUND",
            subject_id=subject_id if known else None,
            collection_id=chosen[0][_ID] if chosen else None,
            **declared_names(policy, purpose=purpose, items=names),
            reason=reason,
            source_ip=source_ip,
        )
        [(event_id,)] = self._log.fetch(cursor, event)
        if not known:
            error: HaechiError = NotFound(
                "no such subject", field="subject_id", code="SUBJECT_NOT_FOUND"
            )
            return ReadOutcome(event_id, error)
        if decision.reason is not None:
            error = AccessDenied(decision.reason.value, decision.message, audit_event_id=event_id)
            return ReadOutcome(event_id, error)
        collection_id, version = chosen[0][_ID], chosen[0][_KEY_VERSION]
        data_key = open_data_key(
            keys,
            store=Store.SEPARATED if for_hold else Store.MAIN,
            key_id=chosen[0][_KEY_ID],
            wrapped=bytes(chosen[0][_WRAPPED]),
            collection_id=collection_id,
        )
        sealer = Sealer(data_key)
        wanted_set = set(names)
        values = {
            row[_NAME]: sealer.open(
                bytes(row[_SEALED]),
                context=item_context(collection_id, row[_NAME], version=version),
            )
            for row in chosen
            if row[_NAME] in wanted_set
        }
        return ReadOutcome(event_id, None, values)


_GONE = (CollectionState.DESTROYED.value, CollectionState.SEPARATED.value)


def _current_collection(
    rows: list[tuple[Any, ...]],
    convert: Callable[[tuple[Any, ...]], tuple[Any, ...]],
    *,
    for_hold: bool = False,
) -> list[tuple[Any, ...]]:
    """Rows of the live collection (the separated one for a hold), else the most recent."""
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault(row[_ID], []).append(row)
    if len(groups) <= 1:
        return rows

    def rank(group: list[tuple[Any, ...]]) -> tuple[bool, datetime]:
        head = convert(group[0])
        if for_hold:
            return (head[_STATE] == CollectionState.SEPARATED.value, head[_COLLECTED])
        return (head[_STATE] not in _GONE, head[_COLLECTED])

    return max(groups.values(), key=rank)
