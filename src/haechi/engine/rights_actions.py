"""Carrying a request out on the person's collections: holds, and what each kind does.

- correction and deletion hold the collections concerned from verification until the
  request closes (policy §3③): ``use()`` then refuses with HELD; only this module,
  acting for the request, reads and changes them;
- correction seals the merged values under a fresh data key (the re-collection path,
  :func:`haechi.subjects.collecting.seal_items`), the old key and items deleted;
- deletion crypto-shreds each collection with a certificate
  (:mod:`haechi.retention.destruction`), except data a statute keeps: refused naming
  the purpose's legal hold and until when;
- suspension marks collections SUSPENDED until lifted; withdrawal records the
  withdrawal of consent, which makes the collection due for destruction at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy import delete as delete_rows

from haechi.access.decision import CollectionState
from haechi.crypto.blind_index import BlindIndex
from haechi.crypto.keys import KeyProvider
from haechi.errors import Conflict
from haechi.policy.loader import LoadedPolicy
from haechi.policy.schema import ItemKind, Policy
from haechi.retention import destruction, records
from haechi.rights.exports import open_items
from haechi.storage.rights_tables import rights_holds
from haechi.storage.tables import collections, holds, subject_lookups
from haechi.subjects import service as subjects
from haechi.subjects.collecting import drop_items, seal_items
from haechi.subjects.matching import lookup_digests
from haechi.subjects.values import CleanValue, clean_value

__all__ = [
    "LIVE",
    "HoldRefusal",
    "correct",
    "delete",
    "in_scope",
    "legal_hold",
    "place_holds",
    "release_holds",
    "suspend",
    "withdraw",
]

LIVE = (CollectionState.ACTIVE.value, CollectionState.HELD.value, CollectionState.SUSPENDED.value)
_HOLD_REASON = "rights_request"


@dataclass(frozen=True)
class HoldRefusal:
    """A collection a statute keeps: which purpose's hold, and until when."""

    collection_id: str
    purpose: str
    until: datetime


def in_scope(
    connection: Connection,
    *,
    subject_id: str,
    purposes: Iterable[str],
    separated: bool = False,
    lock: bool = False,
    share: bool = False,
) -> list[Row[Any]]:
    """The subject's collections for ``purposes`` (all purposes if empty), live ones.

    With ``separated``, data kept apart under a legal hold is included too; with
    ``lock``, the rows are locked until the transaction ends (PostgreSQL), so neither a
    re-collection nor the sweep changes them while the request is carried out. With
    ``share`` as well, the lock is a shared one, for a transaction that only reads the
    rows' items: other readers go on, changes wait. Rows are locked in the order of
    the result (purpose, id), the same for every caller.
    """
    states = list(LIVE) + ([CollectionState.SEPARATED.value] if separated else [])
    query = (
        select(collections)
        .where(collections.c.subject_id == subject_id, collections.c.state.in_(states))
        .order_by(collections.c.purpose, collections.c.id)
    )
    wanted = sorted(set(purposes))
    if wanted:
        query = query.where(collections.c.purpose.in_(wanted))
    return list(connection.execute(query.with_for_update(read=share) if lock else query))


def place_holds(
    connection: Connection, *, request_id: str, targets: Iterable[Row[Any]], by: str, now: datetime
) -> list[str]:
    """Hold each live collection of ``targets`` for the request; return their ids."""
    held: list[str] = []
    for row in targets:
        if row.state == CollectionState.SEPARATED.value:
            continue
        hold_id = subjects.place_hold(
            connection, collection_id=row.id, reason=_HOLD_REASON, placed_by=by, now=now
        )
        connection.execute(
            insert(rights_holds).values(
                request_id=request_id, hold_id=hold_id, collection_id=row.id
            )
        )
        held.append(row.id)
    return held


def release_holds(connection: Connection, *, request_id: str, now: datetime) -> list[str]:
    """Release the holds the request placed that are still on; return the collection ids."""
    rows = connection.execute(
        select(rights_holds.c.hold_id, rights_holds.c.collection_id)
        .join(holds, holds.c.id == rights_holds.c.hold_id)
        .where(rights_holds.c.request_id == request_id, holds.c.released_at.is_(None))
    ).all()
    for row in rows:
        subjects.release_hold(
            connection, collection_id=row.collection_id, hold_id=row.hold_id, now=now
        )
    return [row.collection_id for row in rows]


def legal_hold(policy: Policy, row: Row[Any], *, now: datetime) -> HoldRefusal | None:
    """Whether a statute keeps this collection now, and until when.

    Separated data until its hold ends; live data of a purpose with a legal hold until
    its retention and then the hold have run.
    """
    if row.state == CollectionState.SEPARATED.value:
        if row.hold_until is not None and row.hold_until > now:
            return HoldRefusal(row.id, row.purpose, row.hold_until)
        return None
    purpose = policy.purpose(row.purpose)
    if purpose is None or purpose.legal_hold is None:
        return None
    return HoldRefusal(
        row.id, row.purpose, purpose.legal_hold.retention_period.after(row.expires_at)
    )


def delete(
    connection: Connection, *, targets: Iterable[Row[Any]], by: str, now: datetime
) -> list[dict[str, Any]]:
    """Crypto-shred each collection of ``targets`` with its own certificate."""
    done: list[dict[str, Any]] = []
    for row in targets:
        target = destruction.lock_target(connection, row.id)
        result = destruction.shred(connection, target, now=now)
        if result.already_destroyed:
            continue
        certificate = records.certify_manual(
            connection,
            collection_id=row.id,
            subject_id=result.subject_id,
            purpose=result.purpose,
            item_names=result.item_names,
            destroyed_by=by,
            reason="rights_request",
            now=now,
        )
        done.append(
            {"collection_id": row.id, "purpose": row.purpose, "certificate_id": certificate}
        )
    return done


def correct(
    connection: Connection,
    *,
    policy: LoadedPolicy,
    keys: KeyProvider,
    index: BlindIndex,
    subject_id: str,
    targets: Iterable[Row[Any]],
    corrections: Mapping[str, CleanValue],
    now: datetime,
) -> list[dict[str, Any]]:
    """Seal the corrected values of each live collection under a fresh data key."""
    digests = lookup_digests(policy.policy, index, corrections)
    _refuse_others_email(connection, subject_id=subject_id, digests=digests)
    changed: list[dict[str, Any]] = []
    for row in targets:
        if row.state == CollectionState.SEPARATED.value:
            continue
        declared = policy.policy.purposes[row.purpose].all_items
        names = sorted(name for name in corrections if name in declared)
        if not names:
            continue
        current = open_items(
            connection, keys=keys, collection_id=row.id, version=row.key_version, separated=False
        )
        merged = {name: CleanValue(value, None) for name, value in current.items()}
        merged.update({name: corrections[name] for name in names})
        version = row.key_version + 1
        drop_items(connection, row.id, now=now)
        seal_items(
            connection,
            keys=keys,
            collection_id=row.id,
            version=version,
            values=merged,
            deadline=row.due_at or row.expires_at,
            now=now,
        )
        connection.execute(
            update(collections)
            .where(collections.c.id == row.id)
            .values(key_version=version, updated_at=now)
        )
        changed.append({"collection_id": row.id, "purpose": row.purpose, "items": names})
    _add_lookups(connection, subject_id=subject_id, digests=digests)
    if digests:
        _drop_stale_lookups(
            connection, policy=policy.policy, keys=keys, index=index, subject_id=subject_id
        )
    return changed


def _drop_stale_lookups(
    connection: Connection,
    *,
    policy: Policy,
    keys: KeyProvider,
    index: BlindIndex,
    subject_id: str,
) -> None:
    """Delete the subject's digests of emails and phones no data of theirs holds any more.

    A corrected address must stop finding the person: the old one may be given to
    someone else (a recycled work address), whose data would then join this subject.
    """
    names = list(policy.lookup_items)
    held: set[bytes] = set()
    rows = connection.execute(
        select(collections.c.id, collections.c.state, collections.c.key_version).where(
            collections.c.subject_id == subject_id,
            collections.c.state != CollectionState.DESTROYED.value,
        )
    )
    for row in rows:
        values = open_items(
            connection,
            keys=keys,
            collection_id=row.id,
            version=row.key_version,
            separated=row.state == CollectionState.SEPARATED.value,
            names=names,
        )
        cleaned = {name: clean_value(name, policy.items[name], raw) for name, raw in values.items()}
        held.update(lookup_digests(policy, index, cleaned))
    stale = [
        bytes(digest)
        for digest in connection.execute(
            select(subject_lookups.c.digest).where(subject_lookups.c.subject_id == subject_id)
        ).scalars()
        if bytes(digest) not in held
    ]
    if stale:
        connection.execute(
            delete_rows(subject_lookups).where(
                subject_lookups.c.subject_id == subject_id, subject_lookups.c.digest.in_(stale)
            )
        )


def _refuse_others_email(
    connection: Connection, *, subject_id: str, digests: Mapping[bytes, str]
) -> None:
    emails = [digest for digest, kind in digests.items() if kind == ItemKind.EMAIL.value]
    if not emails:
        return
    other = connection.execute(
        select(subject_lookups.c.subject_id).where(
            subject_lookups.c.digest.in_(emails), subject_lookups.c.subject_id != subject_id
        )
    ).first()
    if other is not None:
        raise Conflict(
            "the corrected email address belongs to another subject",
            field="corrections",
            code="IDENTIFIERS_DISAGREE",
        )


def _add_lookups(connection: Connection, *, subject_id: str, digests: Mapping[bytes, str]) -> None:
    if not digests:
        return
    held = {
        bytes(digest)
        for digest in connection.execute(
            select(subject_lookups.c.digest).where(
                subject_lookups.c.subject_id == subject_id,
                subject_lookups.c.digest.in_(list(digests)),
            )
        ).scalars()
    }
    new = [
        {"digest": digest, "kind": kind, "subject_id": subject_id}
        for digest, kind in digests.items()
        if digest not in held
    ]
    if new:
        connection.execute(insert(subject_lookups), new)


def suspend(
    connection: Connection, *, targets: Iterable[Row[Any]], lift: bool, now: datetime
) -> list[str]:
    """Suspend the active collections of ``targets`` (or lift their suspension)."""
    wanted = CollectionState.SUSPENDED.value if lift else CollectionState.ACTIVE.value
    changed: list[str] = []
    for row in targets:
        if row.state != wanted:
            continue
        subjects.set_suspended(connection, collection_id=row.id, suspended=not lift, now=now)
        changed.append(row.id)
    return changed


def withdraw(
    connection: Connection,
    *,
    policy: LoadedPolicy,
    targets: Iterable[Row[Any]],
    source_ip: str | None,
    now: datetime,
) -> list[str]:
    """Withdraw consent for each consented live collection of ``targets``."""
    changed: list[str] = []
    for row in targets:
        if row.state == CollectionState.SEPARATED.value or not row.consented:
            continue
        subjects.withdraw_consent(
            connection,
            policy=policy,
            collection_id=row.id,
            method="rights_request",
            source_ip=source_ip,
            now=now,
        )
        changed.append(row.id)
    return changed
