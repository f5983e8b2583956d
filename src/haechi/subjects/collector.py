"""Storing a collection: every value sealed first, then one short transaction.

``collect()`` writes on every new person, and on SQLite every writer waits for the one
write lock. So the work splits in two. :func:`seal_collection` does everything that
needs no database before a transaction opens: the blind-index digests, a fresh data
key wrapped under its period's epoch key (:class:`~haechi.storage.keyring.CurrentEpochs`),
every item sealed for a new collection id, the consent and audit rows.
:meth:`Collector.store` then runs the statements alone, prepared once per dialect
(:mod:`haechi.storage.prepared`) on the transaction's DBAPI cursor: match or create
the subject, lock its live collection, confirm the epoch key, insert the collection,
its key, its items (one ``executemany``), the consent and the audit event.

A re-collection (the same person giving data again for the same purpose) cannot be
sealed ahead: its items are bound to the existing collection's id and next key
version, known only inside. It seals the new values under a fresh data key there: the
old wrapped key is deleted in the same transaction, so replaced values left in dead
tuples, WAL or backups become unreadable with it, and the key version in every item's
associated data makes an old ciphertext put back in place of a new one fail to open.

The live collection is read ``FOR UPDATE`` (PostgreSQL; SQLite serialises writers):
a sweep that destroys or separates it first makes this collection start anew instead
of writing values under a shredded key.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, null, select, update
from sqlalchemy.engine import Dialect

from haechi.access.decision import Actor, CollectionState
from haechi.audit.events import event_values, prepared_insert
from haechi.crypto.blind_index import BlindIndex
from haechi.crypto.envelope import Sealer, item_context
from haechi.crypto.epochs import Store, data_key_context
from haechi.crypto.keys import KeyProvider, new_data_key
from haechi.errors import Conflict
from haechi.policy.loader import LoadedPolicy
from haechi.policy.schema import Purpose
from haechi.storage.key_tables import key_epochs
from haechi.storage.keyring import CurrentEpochs
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import collections, consents, data_keys, holds, items
from haechi.subjects.collecting import OnFile
from haechi.subjects.matching import SubjectMatcher, lookup_digests
from haechi.subjects.models import CollectResult, ConsentEvidence
from haechi.subjects.values import CleanValue

__all__ = ["Collector", "SealedCollection", "seal_collection"]


def _insert(table: Any, names: list[str]) -> Any:
    return insert(table).values({name: bindparam(name) for name in names})


_COLLECTION_COLUMNS = [
    "id",
    "subject_id",
    "purpose",
    "state",
    "policy_version",
    "consented",
    "collected_at",
    "updated_at",
    "expires_at",
    "due_at",
    "channel",
    "source",
    "key_version",
]
_CONSENT_COLUMNS = [
    "id",
    "subject_id",
    "collection_id",
    "purpose",
    "granted",
    "method",
    "source_ip",
    "text_hash",
    "policy_version",
    "recorded_at",
]
_LIVE_COLLECTION = (
    select(collections.c.id, collections.c.state, collections.c.key_version)
    .where(
        collections.c.subject_id == bindparam("subject_id"),
        collections.c.purpose == bindparam("purpose"),
        # Data separated under a legal hold is no longer the subject's live data:
        # giving data again starts a new collection beside it. (Two comparisons, not
        # NOT IN: a prepared statement has no list expanded at execution.)
        collections.c.state != CollectionState.DESTROYED.value,
        collections.c.state != CollectionState.SEPARATED.value,
    )
    .order_by(collections.c.collected_at.desc())
    .limit(1)
    .with_for_update()
)
_OPEN_HOLD = (
    select(holds.c.id)
    .where(holds.c.collection_id == bindparam("collection_id"), holds.c.released_at.is_(None))
    .limit(1)
)
_RECOLLECTED = (
    update(collections)
    .where(collections.c.id == bindparam("b_id"))
    .values(
        policy_version=bindparam("policy_version"),
        consented=bindparam("consented"),
        updated_at=bindparam("updated_at"),
        expires_at=bindparam("expires_at"),
        due_at=bindparam("due_at"),
        accomplished_at=null(),
        channel=bindparam("channel"),
        source=bindparam("source"),
        key_version=bindparam("key_version"),
    )
)
# What drop_items() does, for one collection: the old key's epoch is marked shredded.
_MARK_SHREDDED = (
    update(key_epochs)
    .where(
        key_epochs.c.id.in_(
            select(data_keys.c.key_id).where(data_keys.c.collection_id == bindparam("b_id"))
        ),
        key_epochs.c.shred_at.is_(None),
    )
    .values(shred_at=bindparam("shred_at"))
)
_DELETE_ITEMS = delete(items).where(items.c.collection_id == bindparam("b_id"))
_DELETE_KEY = delete(data_keys).where(data_keys.c.collection_id == bindparam("b_id"))


@dataclass(frozen=True)
class SealedCollection:
    """A collection ready to store: sealed for a new collection id, with its rows."""

    purpose_id: str
    collection_id: str
    epoch_id: str
    digests: dict[bytes, str]
    collection: dict[str, Any]
    key: dict[str, Any]
    items: list[dict[str, Any]]
    consent: dict[str, Any]
    event: dict[str, Any]
    now: datetime
    expires_at: datetime
    # Kept only for a re-collection, which must seal again inside the transaction.
    values: Mapping[str, CleanValue] = field(repr=False)


def seal_collection(
    *,
    policy: LoadedPolicy,
    index: BlindIndex,
    epochs: CurrentEpochs,
    purpose: Purpose,
    purpose_id: str,
    values: Mapping[str, CleanValue],
    consent: ConsentEvidence,
    channel: str,
    source: str | None,
    actor: Actor,
    now: datetime,
) -> SealedCollection:
    """Everything a collection needs that no database read decides, done before storing it."""
    expires_at = purpose.retention_period.after(now)
    collection_id = str(uuid.uuid4())
    data_key = new_data_key()
    sealer = Sealer(data_key)
    epoch_id, wrapped = epochs.wrap(
        store=Store.MAIN,
        collection_id=collection_id,
        deadline=expires_at,
        now=now,
        data_key=data_key,
    )
    return SealedCollection(
        purpose_id=purpose_id,
        collection_id=collection_id,
        epoch_id=epoch_id,
        digests=lookup_digests(policy.policy, index, values),
        collection={
            "id": collection_id,
            "purpose": purpose_id,
            "state": CollectionState.ACTIVE.value,
            "policy_version": policy.version_id,
            "consented": consent.granted,
            "collected_at": now,
            "updated_at": now,
            "expires_at": expires_at,
            "due_at": expires_at,
            "channel": channel,
            "source": source,
            "key_version": 0,
        },
        key={"collection_id": collection_id, "key_id": epoch_id, "wrapped": wrapped},
        items=_sealed_items(sealer, collection_id, 0, values),
        consent={
            "id": str(uuid.uuid4()),
            "collection_id": collection_id,
            "purpose": purpose_id,
            "granted": consent.granted,
            "method": consent.method,
            "source_ip": consent.source_ip,
            "text_hash": consent.text_hash,
            "policy_version": policy.version_id,
            "recorded_at": now,
        },
        event=event_values(
            now=now,
            actor=actor.name,
            actor_kind=actor.kind,
            action="collect",
            collection_id=collection_id,
            purpose=purpose_id,
            items=values.keys(),
            source_ip=consent.source_ip,
        ),
        now=now,
        expires_at=expires_at,
        values=values,
    )


def _sealed_items(
    sealer: Sealer, collection_id: str, version: int, values: Mapping[str, CleanValue]
) -> list[dict[str, Any]]:
    return [
        {
            "collection_id": collection_id,
            "name": name,
            "sealed": sealer.seal(
                value.value, context=item_context(collection_id, name, version=version)
            ),
        }
        for name, value in values.items()
    ]


class Collector:
    """Stores sealed collections for one dialect, with statements prepared once."""

    def __init__(self, dialect: Dialect, epochs: CurrentEpochs):
        self._epochs = epochs
        self._matcher = SubjectMatcher(dialect)

        def prepared(statement: Any) -> PreparedStatement:
            return PreparedStatement(statement, dialect)

        self._live = prepared(_LIVE_COLLECTION)
        self._open_hold = prepared(_OPEN_HOLD)
        self._insert_collection = prepared(_insert(collections, _COLLECTION_COLUMNS))
        self._recollected = prepared(_RECOLLECTED)
        self._mark_shredded = prepared(_MARK_SHREDDED)
        self._delete_items = prepared(_DELETE_ITEMS)
        self._delete_key = prepared(_DELETE_KEY)
        self._insert_key = prepared(_insert(data_keys, ["collection_id", "key_id", "wrapped"]))
        self._insert_items = prepared(_insert(items, ["collection_id", "name", "sealed"]))
        self._insert_consent = prepared(_insert(consents, _CONSENT_COLUMNS))
        self._log = prepared_insert(dialect)

    def store(
        self, cursor: Any, sealed: SealedCollection, *, keys: KeyProvider, replace: bool = True
    ) -> CollectResult:
        """Store ``sealed`` for its subject × purpose, in the cursor's transaction.

        With ``replace`` False, a person already holding live data for the purpose keeps
        it as it is, in whatever state: :class:`OnFile` is raised, so the caller's
        transaction rolls back (the new identifiers are not linked to the person either).
        An unverified party, who only has to type someone's email, must not overwrite
        that person's data. Raises :class:`~haechi.storage.keyring.StaleEpoch` if the
        epoch key it was wrapped under was retired meanwhile (seal again and retry).
        """
        now = sealed.now
        subject_id, created = self._matcher.match_or_create_subject(
            cursor, digests=sealed.digests, now=now
        )
        # A subject created just now has no collection yet.
        existing = (
            None
            if created
            else next(
                iter(
                    self._live.fetch(
                        cursor, {"subject_id": subject_id, "purpose": sealed.purpose_id}
                    )
                ),
                None,
            )
        )
        if existing is None:
            self._insert_collection.execute(cursor, {**sealed.collection, "subject_id": subject_id})
            self._epochs.check(cursor, sealed.epoch_id)
            rows = sealed
        else:
            rows = self._replace(cursor, sealed, subject_id, existing, keys=keys, replace=replace)
        self._insert_key.execute(cursor, rows.key)
        self._insert_items.execute_many(cursor, rows.items)
        self._insert_consent.execute(cursor, {**rows.consent, "subject_id": subject_id})
        self._log.fetch(cursor, {**rows.event, "subject_id": subject_id})
        return CollectResult(
            subject_id, rows.collection_id, sealed.expires_at, created=existing is None
        )

    def _replace(
        self,
        cursor: Any,
        sealed: SealedCollection,
        subject_id: str,
        existing: tuple[Any, ...],
        *,
        keys: KeyProvider,
        replace: bool,
    ) -> SealedCollection:
        """Re-collection: the checks, the old key shredded, the values sealed anew."""
        collection_id, state, key_version = existing
        purpose_id = sealed.purpose_id
        if not replace:
            # Before the state checks: whether the data is held or suspended is not told.
            raise OnFile(subject_id, collection_id)
        if state != CollectionState.ACTIVE.value:
            raise Conflict(
                f"the subject's data for purpose {purpose_id!r} is {state}; "
                "it cannot be replaced until that ends",
                code="COLLECTION_NOT_ACTIVE",
            )
        if self._open_hold.fetch(cursor, {"collection_id": collection_id}):
            # A pending correction or deletion holds the data as it is (policy §3③):
            # new values must not slip in under it.
            raise Conflict(
                f"the subject's data for purpose {purpose_id!r} is held by a pending request; "
                "it cannot be replaced until the hold is released",
                code="COLLECTION_HELD",
            )
        # The same person giving data again for the same purpose: the new values
        # replace the old ones under a new key, and the clock restarts from this consent.
        version = key_version + 1
        self._delete_items.execute(cursor, {"b_id": collection_id})
        self._mark_shredded.execute(cursor, {"b_id": collection_id, "shred_at": sealed.now})
        self._delete_key.execute(cursor, {"b_id": collection_id})
        self._recollected.execute(
            cursor,
            {
                **{name: sealed.collection[name] for name in _RECOLLECTED_VALUES},
                "b_id": collection_id,
                "key_version": version,
            },
        )
        self._epochs.check(cursor, sealed.epoch_id)
        data_key = new_data_key()
        wrapped = keys.wrap_epoch(
            sealed.epoch_id, data_key, context=data_key_context(Store.MAIN, collection_id)
        )
        return dataclasses.replace(
            sealed,
            collection_id=collection_id,
            key={"collection_id": collection_id, "key_id": sealed.epoch_id, "wrapped": wrapped},
            items=_sealed_items(Sealer(data_key), collection_id, version, sealed.values),
            consent={**sealed.consent, "collection_id": collection_id},
            event={**sealed.event, "collection_id": collection_id},
        )


_RECOLLECTED_VALUES = [
    "policy_version",
    "consented",
    "updated_at",
    "expires_at",
    "due_at",
    "channel",
    "source",
]
