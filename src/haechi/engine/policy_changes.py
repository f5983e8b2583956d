"""What a new policy version does to collections made under an older one.

Each collection remembers the version whose terms its consent covers
(``collections.policy_version``: the version at collection, or at fresh consent).
Against the version in force that gives:

- the consent gap (:func:`uncovered`): items the purpose gained are refused until fresh
  consent, items the old version had stay readable; a changed use or a move to consent
  as the legal basis leaves nothing covered;
- the subjects to ask again (:func:`reconsent_targets`), mailed at announcement;
- narrowing, applied by the sweep once the version is in force: a shorter retention
  moves expiry and due dates forward (:func:`narrow_expiries`) so that the sweep
  destroys on time; items no longer declared lose their sealed values
  (:func:`drop_removed_items`).

Functions take an open connection and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from haechi.access.decision import CollectionState
from haechi.engine.in_force import InForce, PolicyVersions
from haechi.policy.loader import LoadedPolicy
from haechi.policy.schema import Purpose, split_hold_purpose
from haechi.policy.versions import PurposeChange, consent_gap, diff_policies
from haechi.retention.plan import LIVE_STATES
from haechi.storage.tables import collections, consents, items

__all__ = [
    "NoticeTarget",
    "drop_removed_items",
    "narrow_expiries",
    "reconsent_targets",
    "terms_changed",
    "uncovered",
]

_GONE = (CollectionState.DESTROYED.value, CollectionState.SEPARATED.value)


def terms_changed(state: InForce, purpose: str) -> bool:
    """Whether some consent to ``purpose`` may not cover the terms in force (no query)."""
    base, for_hold = split_hold_purpose(purpose)
    return not for_hold and base in state.changed_purposes


def uncovered(
    connection: Connection,
    *,
    versions: PolicyVersions,
    state: InForce,
    subject_id: str,
    purpose: str,
    wanted: list[str] | None,
) -> tuple[list[str] | None, frozenset[str]]:
    """The items to read, and those the subject's consent does not cover under ``state``.

    Asked for all items (``wanted`` None), a collection made under older terms gives
    the items those terms covered. Only purposes whose terms changed cost a query.
    """
    if not terms_changed(state, purpose):
        return wanted, frozenset()
    base = split_hold_purpose(purpose)[0]
    version_id = connection.execute(
        select(collections.c.policy_version)
        .where(
            collections.c.subject_id == subject_id,
            collections.c.purpose == base,
            collections.c.state.notin_(_GONE),
        )
        .order_by(collections.c.collected_at.desc())
        .limit(1)
    ).scalar()
    if version_id is None or version_id == state.loaded.version_id:
        return wanted, frozenset()
    old = versions.loaded(version_id)
    new_purpose = state.loaded.policy.purposes[base]
    old_purpose = old.policy.purposes.get(base) if old is not None else None
    if old_purpose is None:
        return wanted, frozenset()
    gap = consent_gap(old_purpose, new_purpose)
    asked = set(wanted) if wanted is not None else set(new_purpose.all_items)
    if gap.everything:
        return wanted, frozenset(asked)
    if wanted is None:
        return sorted(asked - gap.items), frozenset()
    return wanted, frozenset(asked & gap.items)


@dataclass(frozen=True)
class NoticeTarget:
    """A collection whose subject is asked for fresh consent, and what changes for it."""

    subject_id: str
    collection_id: str
    purpose: str
    change: PurposeChange


def _versions_in_use(connection: Connection, purpose: str) -> list[str]:
    return list(
        connection.execute(
            select(collections.c.policy_version)
            .where(collections.c.purpose == purpose, collections.c.state.in_(LIVE_STATES))
            .distinct()
        ).scalars()
    )


def reconsent_targets(
    connection: Connection, *, versions: PolicyVersions, new: LoadedPolicy, chunk_size: int
) -> Iterator[NoticeTarget]:
    """Live collections whose consent ``new`` changes, by subject then collection id."""
    for name in sorted(new.policy.purposes):
        changes: dict[str, PurposeChange] = {}
        for version_id in _versions_in_use(connection, name):
            old = versions.loaded(version_id)
            if old is None or version_id == new.version_id or name not in old.policy.purposes:
                continue
            diff = diff_policies(old.policy, new.policy)
            change = next((c for c in diff.purposes_changed if c.purpose == name), None)
            if change is not None and change.needs_consent:
                changes[version_id] = change
        if not changes:
            continue
        after = ("", "")
        while True:
            rows = connection.execute(
                select(collections.c.subject_id, collections.c.id, collections.c.policy_version)
                .where(
                    collections.c.purpose == name,
                    collections.c.state.in_(LIVE_STATES),
                    collections.c.policy_version.in_(list(changes)),
                    (collections.c.subject_id, collections.c.id) > after,  # type: ignore[operator]
                )
                .order_by(collections.c.subject_id, collections.c.id)
                .limit(chunk_size)
            ).all()
            for row in rows:
                yield NoticeTarget(row.subject_id, row.id, name, changes[row.policy_version])
            if len(rows) < chunk_size:
                break
            after = (rows[-1].subject_id, rows[-1].id)


def narrow_expiries(
    connection: Connection,
    *,
    versions: PolicyVersions,
    new: LoadedPolicy,
    now: datetime,
) -> int:
    """Move forward the expiry of live collections whose purpose's retention ``new`` shortens.

    The clock keeps its start (the latest consent recorded for the collection, i.e. its
    collection or re-collection); only its length changes. Returns how many moved.
    """
    moved = 0
    for name, purpose in new.policy.purposes.items():
        longer = [
            version_id
            for version_id in _versions_in_use(connection, name)
            if _retention_longer(versions.loaded(version_id), name, purpose)
        ]
        if not longer:
            continue
        started = (
            select(consents.c.collection_id, func.max(consents.c.recorded_at).label("start"))
            .group_by(consents.c.collection_id)
            .subquery()
        )
        rows = connection.execute(
            select(
                collections.c.id, collections.c.expires_at, collections.c.due_at, started.c.start
            )
            .join(started, started.c.collection_id == collections.c.id)
            .where(
                collections.c.purpose == name,
                collections.c.state.in_(LIVE_STATES),
                collections.c.policy_version.in_(longer),
            )
            .with_for_update(of=collections)
        ).all()
        for row in rows:
            expires = purpose.retention_period.after(row.start)
            if expires >= row.expires_at:
                continue
            connection.execute(
                update(collections)
                .where(collections.c.id == row.id)
                .values(expires_at=expires, due_at=min(row.due_at, expires), updated_at=now)
            )
            moved += 1
    return moved


def drop_removed_items(
    connection: Connection, *, versions: PolicyVersions, new: LoadedPolicy
) -> int:
    """Delete the sealed values of items ``new`` no longer declares for their purpose.

    Nothing may read them any more (the decision refuses undeclared items); keeping the
    ciphertext would only keep data without a purpose. Returns how many were deleted.
    """
    dropped = 0
    for name, purpose in new.policy.purposes.items():
        for version_id in _versions_in_use(connection, name):
            old = versions.loaded(version_id)
            before = old.policy.purposes.get(name) if old is not None else None
            removed = sorted(before.all_items - purpose.all_items) if before else []
            if not removed:
                continue
            owners = select(collections.c.id).where(
                collections.c.purpose == name,
                collections.c.state.in_(LIVE_STATES),
                collections.c.policy_version == version_id,
            )
            result = connection.execute(
                delete(items).where(items.c.collection_id.in_(owners), items.c.name.in_(removed))
            )
            dropped += result.rowcount
    return dropped


def _retention_longer(old: LoadedPolicy | None, name: str, purpose: Purpose) -> bool:
    before = old.policy.purposes.get(name) if old is not None else None
    return before is not None and (
        before.retention_period.approx_days > purpose.retention_period.approx_days
    )
