"""Subjects and their collections: consented collection, sealed storage, purpose-bound reads.

Every function takes an open connection and never commits: the caller owns the
transaction, so a change and its audit event land together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, case, delete, insert, select, update

from haechi.access.decision import Actor, CollectionState
from haechi.audit.events import record_event
from haechi.crypto.blind_index import BlindIndex
from haechi.crypto.envelope import Sealer, item_context
from haechi.crypto.keys import KeyProvider, new_data_key
from haechi.errors import (
    Conflict,
    ConsentRequired,
    InvalidInput,
    ItemNotDeclared,
    MissingItem,
    NotFound,
    PurposeNotDeclared,
)
from haechi.policy.loader import LoadedPolicy
from haechi.policy.schema import Policy, Purpose
from haechi.storage.tables import (
    collections,
    consents,
    data_keys,
    holds,
    items,
    subject_lookups,
    subjects,
)
from haechi.subjects.values import CleanValue, clean_value, normalize_phone

__all__ = [
    "CollectResult",
    "CollectionInfo",
    "ConsentEvidence",
    "collect",
    "find_subject",
    "get_collection",
    "place_hold",
    "release_hold",
    "set_suspended",
    "validate_collection",
    "withdraw_consent",
]


@dataclass(frozen=True)
class ConsentEvidence:
    """How consent was given: the channel and method, the address, the text shown."""

    granted: bool
    method: str
    text_hash: str | None = None
    source_ip: str | None = None


@dataclass(frozen=True)
class CollectResult:
    """What a collection produced."""

    subject_id: str
    collection_id: str
    expires_at: datetime
    created: bool


@dataclass(frozen=True)
class CollectionInfo:
    """A collection's metadata: never its values."""

    id: str
    subject_id: str
    purpose: str
    state: CollectionState
    consented: bool
    policy_version: str
    collected_at: datetime
    updated_at: datetime
    expires_at: datetime
    channel: str
    # When destruction falls due (the expiry, or earlier: accomplished or withdrawn),
    # and when the purpose was declared accomplished. The state says where the data
    # is; these say why and from when it is no longer used.
    due_at: datetime
    accomplished_at: datetime | None


# Statements built once: collect() runs them with parameters only, so SQLAlchemy
# neither rebuilds nor re-keys them on every call.
_LIVE_COLLECTION = (
    select(collections.c.id, collections.c.state)
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
)
_KNOWN_DIGESTS = select(subject_lookups.c.digest, subject_lookups.c.subject_id).where(
    subject_lookups.c.digest.in_(bindparam("digests", expanding=True))
)
_INSERT_SUBJECT = insert(subjects)
_INSERT_LOOKUPS = insert(subject_lookups)
_INSERT_COLLECTION = insert(collections)
_INSERT_KEY = insert(data_keys)
_INSERT_ITEMS = insert(items)
_INSERT_CONSENT = insert(consents)


def validate_collection(
    policy: Policy, *, purpose: str, values: Mapping[str, object], consent: ConsentEvidence
) -> tuple[Purpose, dict[str, CleanValue]]:
    """Check a collection against the policy before touching the database."""
    declared = policy.purpose(purpose)
    if declared is None:
        raise PurposeNotDeclared(
            f"purpose {purpose!r} is not declared in the policy", field="purpose"
        )
    undeclared = sorted(set(values) - declared.all_items)
    if undeclared:
        raise ItemNotDeclared(
            f"items not declared for purpose {purpose!r}: {', '.join(undeclared)}",
            field=f"items.{undeclared[0]}",
        )
    missing = [name for name in declared.items if name not in values]
    if missing:
        raise MissingItem(
            f"required items missing for purpose {purpose!r}: {', '.join(missing)}",
            field=f"items.{missing[0]}",
        )
    if declared.needs_consent and not consent.granted:
        raise ConsentRequired(
            f"purpose {purpose!r} needs the subject's consent", field="consent.granted"
        )
    cleaned = {name: clean_value(name, policy.items[name], raw) for name, raw in values.items()}
    return declared, cleaned


def _lookup_digests(
    policy: Policy, index: BlindIndex, values: Mapping[str, CleanValue]
) -> dict[bytes, str]:
    digests: dict[bytes, str] = {}
    for name, kind in policy.lookup_items.items():
        value = values.get(name)
        if value is not None and value.normalized is not None:
            digests[index.digest(kind.value, value.normalized)] = kind.value
    return digests


def find_subject(
    connection: Connection, *, policy: Policy, index: BlindIndex, kind: str, value: str
) -> str | None:
    """The subject whose email or phone is ``value`` (via the blind index), if any."""
    if kind == "phone":
        normalized = normalize_phone(value)
        if normalized is None:
            raise InvalidInput("not a Korean phone number", field="phone")
    elif kind == "email":
        normalized = value.strip().lower()
    else:
        raise InvalidInput("lookups are by email or phone", field="kind")
    digest = index.digest(kind, normalized)
    row = connection.execute(
        select(subject_lookups.c.subject_id).where(subject_lookups.c.digest == digest)
    ).first()
    return None if row is None else str(row.subject_id)


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
) -> CollectResult:
    """Store validated values for one subject × purpose, sealed, with consent evidence."""
    digests = _lookup_digests(policy.policy, index, values)
    subject_id = _match_or_create_subject(connection, digests, now)
    existing = connection.execute(
        _LIVE_COLLECTION, {"subject_id": subject_id, "purpose": purpose_id}
    ).first()
    expires_at = purpose.retention_period.after(now)
    if existing is not None and existing.state != CollectionState.ACTIVE.value:
        raise Conflict(
            f"the subject's data for purpose {purpose_id!r} is {existing.state}; "
            "it cannot be replaced until that ends",
            code="COLLECTION_NOT_ACTIVE",
        )
    if existing is None:
        collection_id = str(uuid.uuid4())
        data_key = new_data_key()
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
            },
        )
        connection.execute(
            _INSERT_KEY,
            {
                "collection_id": collection_id,
                "key_id": keys.key_id,
                "wrapped": keys.wrap(data_key, context=collection_id.encode()),
            },
        )
    else:
        # The same person giving data again for the same purpose: the new values
        # replace the old ones, and the clock restarts from this consent.
        collection_id = existing.id
        data_key = _unwrap(connection, keys, collection_id)
        connection.execute(delete(items).where(items.c.collection_id == collection_id))
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
            )
        )
    sealer = Sealer(data_key)
    connection.execute(
        _INSERT_ITEMS,
        [
            {
                "collection_id": collection_id,
                "name": name,
                "sealed": sealer.seal(value.value, context=item_context(collection_id, name)),
            }
            for name, value in values.items()
        ],
    )
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


def _match_or_create_subject(
    connection: Connection, digests: Mapping[bytes, str], now: datetime
) -> str:
    known: dict[bytes, str] = {}
    if digests:
        rows = connection.execute(_KNOWN_DIGESTS, {"digests": list(digests)})
        known = {bytes(row.digest): row.subject_id for row in rows}
    if known:
        # Email wins over phone when they point at different people: emails are
        # personal, phone numbers are sometimes a shared office line.
        email_match = [known[d] for d, kind in digests.items() if d in known and kind == "email"]
        subject_id = email_match[0] if email_match else next(iter(known.values()))
    else:
        subject_id = str(uuid.uuid4())
        connection.execute(_INSERT_SUBJECT, {"id": subject_id, "created_at": now})
    new = [
        {"digest": digest, "kind": kind, "subject_id": subject_id}
        for digest, kind in digests.items()
        if digest not in known
    ]
    if new:
        connection.execute(_INSERT_LOOKUPS, new)
    return subject_id


def _unwrap(connection: Connection, keys: KeyProvider, collection_id: str) -> bytes:
    wrapped = connection.execute(
        select(data_keys.c.wrapped).where(data_keys.c.collection_id == collection_id)
    ).scalar_one()
    return keys.unwrap(bytes(wrapped), context=collection_id.encode())


def get_collection(connection: Connection, collection_id: str) -> CollectionInfo:
    """A collection's metadata; NotFound if there is none."""
    row = connection.execute(select(collections).where(collections.c.id == collection_id)).first()
    if row is None:
        raise NotFound("no such collection", field="collection_id")
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
