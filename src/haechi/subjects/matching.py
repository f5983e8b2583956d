"""Subject identity: which person a collection belongs to, and who a lookup finds.

A subject is one person. Emails and phone numbers reach it only through the blind
index (``subject_lookups``: HMAC digest → subject), where an email digest belongs to
one subject at most (a unique index) and a phone digest may belong to several, since
a phone is sometimes a shared office line.

Matching a collection to a subject (:func:`match_or_create_subject`):

- The new data has an email: the subject holding that email, or a new subject. A
  phone never decides then: a phone-only match to a subject with another email, or
  with no email at all, makes a new subject, and the phone then belongs to both.
  Two emails of the new data held by two different subjects are refused as a
  Conflict (``IDENTIFIERS_DISAGREE``): the caller resolves, nothing is guessed.
- The new data has no email: the one subject holding its phone, if exactly one does
  and that subject holds no email either; otherwise a new subject.

So two records are one person only when they agree on an email, or when neither has
an email and they share a phone no one else holds. A wrong merge shows one person's
data to another and lets the second overwrite the first; a wrong split only leaves two
records that a lookup by phone reports as ambiguous, for a person to resolve. Two
concurrent phone-only collections of a new number may make two subjects, the safe way.

A lookup (:func:`find_subject`) answers only with subjects that have live data for a
purpose the actor serves (separated data for ``hold:<purpose>``): whether a person is
known for another purpose is itself personal data. A phone held by several such
subjects is ambiguous: the engine refuses it rather than pick one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select

from haechi.access.decision import Actor, CollectionState
from haechi.crypto.blind_index import BlindIndex
from haechi.errors import Conflict, InvalidInput
from haechi.policy.schema import ItemKind, Policy, hold_purpose
from haechi.storage.tables import collections, subject_lookups, subjects
from haechi.subjects.models import SubjectLookup
from haechi.subjects.values import CleanValue, identifier

__all__ = ["find_subject", "lookup_digests", "match_or_create_subject"]

_HOLDERS = select(subject_lookups.c.digest, subject_lookups.c.subject_id).where(
    subject_lookups.c.digest.in_(bindparam("digests", expanding=True))
)
_WITH_EMAIL = select(subject_lookups.c.subject_id).where(
    subject_lookups.c.subject_id.in_(bindparam("subject_ids", expanding=True)),
    subject_lookups.c.kind == ItemKind.EMAIL.value,
)
_HOLDERS_DATA = (
    select(subject_lookups.c.subject_id, collections.c.purpose, collections.c.state)
    .select_from(
        subject_lookups.join(collections, collections.c.subject_id == subject_lookups.c.subject_id)
    )
    .where(subject_lookups.c.digest == bindparam("digest"))
)
_INSERT_SUBJECT = insert(subjects)
_INSERT_LOOKUPS = insert(subject_lookups)

_LIVE = frozenset(
    state.value
    for state in (CollectionState.ACTIVE, CollectionState.HELD, CollectionState.SUSPENDED)
)


def lookup_digests(
    policy: Policy, index: BlindIndex, values: Mapping[str, CleanValue]
) -> dict[bytes, str]:
    """Blind-index digests of the identifying items among ``values``, with their kinds."""
    digests: dict[bytes, str] = {}
    for name, kind in policy.lookup_items.items():
        value = values.get(name)
        if value is not None and value.normalized is not None:
            digests[index.digest(kind.value, value.normalized)] = kind.value
    return digests


def match_or_create_subject(
    connection: Connection, *, digests: Mapping[bytes, str], now: datetime
) -> str:
    """The subject these identifiers belong to (rules in the module docstring)."""
    holders: dict[bytes, set[str]] = {}
    if digests:
        for row in connection.execute(_HOLDERS, {"digests": list(digests)}):
            holders.setdefault(bytes(row.digest), set()).add(row.subject_id)
    emails = [digest for digest, kind in digests.items() if kind == ItemKind.EMAIL.value]
    subject_id: str | None = None
    if emails:
        by_email = set().union(*(holders.get(digest, set()) for digest in emails))
        if len(by_email) > 1:
            raise Conflict(
                "the email addresses given belong to different subjects",
                field="items",
                code="IDENTIFIERS_DISAGREE",
            )
        subject_id = next(iter(by_email), None)
    else:
        by_phone = set().union(*holders.values()) if holders else set()
        if len(by_phone) == 1:
            candidate = next(iter(by_phone))
            with_email = connection.execute(_WITH_EMAIL, {"subject_ids": [candidate]}).first()
            subject_id = candidate if with_email is None else None
    if subject_id is None:
        subject_id = str(uuid.uuid4())
        connection.execute(_INSERT_SUBJECT, {"id": subject_id, "created_at": now})
    new = [
        {"digest": digest, "kind": kind, "subject_id": subject_id}
        for digest, kind in digests.items()
        if subject_id not in holders.get(digest, set())
    ]
    if new:
        connection.execute(_INSERT_LOOKUPS, new)
    return subject_id


def find_subject(
    connection: Connection, *, index: BlindIndex, kind: str, value: str, actor: Actor
) -> SubjectLookup:
    """Who holds this email or phone, split into what ``actor`` may and may not see."""
    if kind not in (ItemKind.EMAIL.value, ItemKind.PHONE.value):
        raise InvalidInput("lookups are by email or phone", field="kind")
    cleaned = identifier(kind, value)
    if cleaned is None or cleaned.normalized is None:
        what = "an email address" if kind == ItemKind.EMAIL.value else "a phone number"
        raise InvalidInput(f"value is not {what}", field="value")
    rows = connection.execute(_HOLDERS_DATA, {"digest": index.digest(kind, cleaned.normalized)})
    visible: set[str] = set()
    held: set[str] = set()
    for row in rows:
        if row.state in _LIVE:
            may_see = actor.may_serve(row.purpose)
        elif row.state == CollectionState.SEPARATED.value:
            may_see = actor.may_serve(hold_purpose(row.purpose))
        else:
            continue  # destroyed: nothing left to find
        (visible if may_see else held).add(row.subject_id)
    return SubjectLookup(visible=tuple(sorted(visible)), hidden=tuple(sorted(held - visible)))
