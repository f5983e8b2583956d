"""Collection: checking values against the policy, then storing them sealed with consent.

:func:`validate_collection` runs before any database work and reports every problem
at once (one error whose ``faults`` list each field); :func:`collect` stores one
subject × purpose under the caller's transaction.

A re-collection (the same person giving data again for the same purpose) seals the
new values under a fresh data key: the old wrapped key is deleted in the same
transaction, so replaced values left in dead tuples, WAL or backups become
unreadable with it, and the key version in every item's associated data makes an old
ciphertext put back in place of a new one fail to open.

The live collection is read ``FOR UPDATE`` (PostgreSQL; SQLite serialises writers):
a sweep that destroys or separates it first makes this collection start anew instead
of writing values under a shredded key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from haechi.access.decision import Actor, CollectionState
from haechi.audit.events import record_event
from haechi.crypto.blind_index import BlindIndex
from haechi.crypto.envelope import Sealer, item_context
from haechi.crypto.keys import KeyProvider, new_data_key
from haechi.errors import (
    Conflict,
    ConsentRequired,
    HaechiError,
    InvalidInput,
    ItemNotDeclared,
    MissingItem,
    Problem,
    PurposeNotDeclared,
)
from haechi.policy.loader import LoadedPolicy
from haechi.policy.schema import Policy, Purpose
from haechi.storage.tables import collections, consents, data_keys, holds, items
from haechi.subjects.matching import lookup_digests, match_or_create_subject
from haechi.subjects.models import CollectResult, ConsentEvidence
from haechi.subjects.values import CleanValue, clean_value, unsafe_text

__all__ = ["MAX_ITEMS", "collect", "drop_items", "seal_items", "validate_collection"]

# More keys than this (or than the policy declares items, if more) are refused before
# any per-item work: one fault, not one per key.
MAX_ITEMS = 64

_OPEN_HOLD = (
    select(holds.c.id)
    .where(holds.c.collection_id == bindparam("collection_id"), holds.c.released_at.is_(None))
    .limit(1)
)
_LIVE_COLLECTION = (
    select(collections.c.id, collections.c.state, collections.c.key_version)
    .where(
        collections.c.subject_id == bindparam("subject_id"),
        collections.c.purpose == bindparam("purpose"),
        # Data separated under a legal hold is no longer the subject's live data:
        # giving data again starts a new collection beside it.
        collections.c.state.notin_(
            [CollectionState.DESTROYED.value, CollectionState.SEPARATED.value]
        ),
    )
    .order_by(collections.c.collected_at.desc())
    .limit(1)
    .with_for_update()
)
_INSERT_COLLECTION = insert(collections)
_INSERT_KEY = insert(data_keys)
_INSERT_ITEMS = insert(items)
_INSERT_CONSENT = insert(consents)

_Fault = tuple[type[HaechiError], Problem]


def validate_collection(
    policy: Policy, *, purpose: str, values: Mapping[str, object], consent: ConsentEvidence
) -> tuple[Purpose, dict[str, CleanValue]]:
    """Check a collection against the policy before touching the database.

    Every problem is reported in one error's ``faults``; the error is of the first
    problem's class (item names, undeclared items, missing items, consent, values).
    Only names the policy declares are echoed; other keys are counted, never quoted.
    """
    limit = max(MAX_ITEMS, len(policy.items))
    if len(values) > limit:
        raise InvalidInput(
            f"a collection holds at most {limit} items", field="items", code="TOO_MANY_ITEMS"
        )
    declared = policy.purpose(purpose)
    if declared is None:
        raise PurposeNotDeclared("the purpose is not declared in the policy", field="purpose")
    faults: list[_Fault] = []
    names = [key for key in values if isinstance(key, str) and not unsafe_text(key)]
    if len(names) < len(values):
        faults.append(
            _fault(InvalidInput, "items", "INVALID_ITEM_NAME", "an item name is not plain text")
        )
    for name in sorted(n for n in names if n in policy.items and n not in declared.all_items):
        message = f"items.{name} is not declared for purpose {purpose!r}"
        faults.append(_fault(ItemNotDeclared, f"items.{name}", "ITEM_NOT_DECLARED", message))
    unknown = sum(1 for name in names if name not in policy.items)
    if unknown:
        message = f"{unknown} item(s) not declared in the policy"
        faults.append(_fault(ItemNotDeclared, "items", "ITEM_NOT_DECLARED", message))
    for name in declared.items:
        if name not in values:
            message = f"items.{name} is required for purpose {purpose!r}"
            faults.append(_fault(MissingItem, f"items.{name}", "MISSING_ITEM", message))
    if declared.needs_consent and not consent.granted:
        message = f"purpose {purpose!r} needs the subject's consent"
        faults.append(_fault(ConsentRequired, "consent.granted", "NO_CONSENT", message))
    cleaned: dict[str, CleanValue] = {}
    for name in names:
        if name not in declared.all_items:
            continue
        try:
            cleaned[name] = clean_value(name, policy.items[name], values[name])
        except InvalidInput as error:
            faults.extend((InvalidInput, problem) for problem in error.faults)
    if faults:
        raise _combined(faults)
    return declared, cleaned


def _fault(kind: type[HaechiError], field: str, code: str, message: str) -> _Fault:
    return kind, Problem(field=field, code=code, message=message)


def _combined(faults: list[_Fault]) -> HaechiError:
    """One error of the first fault's class carrying every fault."""
    kind, first = faults[0]
    more = f" (and {len(faults) - 1} more problems)" if len(faults) > 1 else ""
    return kind(
        first.message + more,
        field=first.field,
        code=first.code,
        problems=tuple(problem for _, problem in faults),
    )


class OnFile(Conflict):
    """The person already has live data for the purpose, and it was not to be replaced."""

    code = "ON_FILE"

    def __init__(self, subject_id: str, collection_id: str) -> None:
        super().__init__("the subject already has data for this purpose", code=self.code)
        self.subject_id = subject_id
        self.collection_id = collection_id


def collect(
    connection: Connection,
    *,
    policy: LoadedPolicy,
    keys: KeyProvider,
    index: BlindIndex,
    purpose: Purpose,
    purpose_id: str,
    values: Mapping[str, CleanValue],
    consent: ConsentEvidence,
    channel: str,
    source: str | None,
    actor: Actor,
    now: datetime,
    replace: bool = True,
) -> CollectResult:
    """Store validated values for one subject × purpose, sealed, with consent evidence.

    With ``replace`` False, a person already holding live data for the purpose keeps
    it as it is, in whatever state: :class:`OnFile` is raised, so the caller's
    transaction rolls back (the new identifiers are not linked to the person either).
    An unverified party, who only has to type someone's email, must not overwrite
    that person's data.
    """
    digests = lookup_digests(policy.policy, index, values)
    subject_id = match_or_create_subject(connection, digests=digests, now=now)
    existing = connection.execute(
        _LIVE_COLLECTION, {"subject_id": subject_id, "purpose": purpose_id}
    ).first()
    expires_at = purpose.retention_period.after(now)
    if existing is not None and not replace:
        # Before the state checks: whether the data is held or suspended is not told.
        raise OnFile(subject_id, existing.id)
    if existing is not None and existing.state != CollectionState.ACTIVE.value:
        raise Conflict(
            f"the subject's data for purpose {purpose_id!r} is {existing.state}; "
            "it cannot be replaced until that ends",
            code="COLLECTION_NOT_ACTIVE",
        )
    if (
        existing is not None
        and connection.execute(_OPEN_HOLD, {"collection_id": existing.id}).first()
    ):
        # A pending correction or deletion holds the data as it is (policy §3③):
        # new values must not slip in under it.
        raise Conflict(
            f"the subject's data for purpose {purpose_id!r} is held by a pending request; "
            "it cannot be replaced until the hold is released",
            code="COLLECTION_HELD",
        )
    if existing is None:
        collection_id, version = str(uuid.uuid4()), 0
        connection.execute(
            _INSERT_COLLECTION,
            {
                "id": collection_id,
                "subject_id": subject_id,
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
                "key_version": version,
            },
        )
    else:
        # The same person giving data again for the same purpose: the new values
        # replace the old ones under a new key, and the clock restarts from this consent.
        collection_id, version = existing.id, existing.key_version + 1
        drop_items(connection, collection_id)
        connection.execute(
            update(collections)
            .where(collections.c.id == collection_id)
            .values(
                policy_version=policy.version_id,
                consented=consent.granted,
                updated_at=now,
                expires_at=expires_at,
                due_at=expires_at,
                accomplished_at=None,
                channel=channel,
                source=source,
                key_version=version,
            )
        )
    seal_items(connection, keys=keys, collection_id=collection_id, version=version, values=values)
    connection.execute(
        _INSERT_CONSENT,
        {
            "id": str(uuid.uuid4()),
            "subject_id": subject_id,
            "collection_id": collection_id,
            "purpose": purpose_id,
            "granted": consent.granted,
            "method": consent.method,
            "source_ip": consent.source_ip,
            "text_hash": consent.text_hash,
            "policy_version": policy.version_id,
            "recorded_at": now,
        },
    )
    record_event(
        connection,
        now=now,
        actor=actor.name,
        actor_kind=actor.kind,
        action="collect",
        subject_id=subject_id,
        collection_id=collection_id,
        purpose=purpose_id,
        items=values.keys(),
        source_ip=consent.source_ip,
    )
    return CollectResult(subject_id, collection_id, expires_at, created=existing is None)


def drop_items(connection: Connection, collection_id: str) -> None:
    """Delete a collection's items and its wrapped data key (before sealing anew)."""
    connection.execute(delete(items).where(items.c.collection_id == collection_id))
    connection.execute(delete(data_keys).where(data_keys.c.collection_id == collection_id))


def seal_items(
    connection: Connection,
    *,
    keys: KeyProvider,
    collection_id: str,
    version: int,
    values: Mapping[str, CleanValue],
) -> None:
    """Seal ``values`` under a fresh data key of generation ``version`` and store both.

    Collection and re-collection use it, and so does a correction a person asked for.
    """
    data_key = new_data_key()
    connection.execute(
        _INSERT_KEY,
        {
            "collection_id": collection_id,
            "key_id": keys.key_id,
            "wrapped": keys.wrap(data_key, context=collection_id.encode()),
        },
    )
    sealer = Sealer(data_key)
    connection.execute(
        _INSERT_ITEMS,
        [
            {
                "collection_id": collection_id,
                "name": name,
                "sealed": sealer.seal(
                    value.value, context=item_context(collection_id, name, version=version)
                ),
            }
            for name, value in values.items()
        ],
    )
