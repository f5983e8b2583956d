"""Subject identity: which person a collection belongs to, and who a lookup finds.

A subject is one person. Emails and phone numbers reach it only through the blind
index (``subject_lookups``: HMAC digest → subject), where an email digest belongs to
one subject at most (a unique index) and a phone digest may belong to several, since
a phone is sometimes a shared office line.

Matching a collection to a subject (:meth:`SubjectMatcher.match_or_create_subject`):

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
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    LargeBinary,
    Select,
    and_,
    bindparam,
    insert,
    or_,
    select,
)
from sqlalchemy.engine import Dialect

from haechi.access.decision import Actor, CollectionState
from haechi.crypto.blind_index import BlindIndex
from haechi.errors import Conflict, InvalidInput
from haechi.policy.schema import ItemKind, Policy, split_hold_purpose
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import collections, subject_lookups, subjects
from haechi.subjects.models import SubjectLookup
from haechi.subjects.values import CleanValue, identifier

__all__ = ["SubjectMatcher", "find_subject", "lookup_digests"]


def _email_holders(digests: list[BindParameter[bytes]]) -> Select[Any]:
    return (
        select(subject_lookups.c.subject_id)
        .where(
            subject_lookups.c.digest.in_(digests),
            subject_lookups.c.kind == ItemKind.EMAIL.value,
        )
        .distinct()
    )


def _phone_holders(digests: list[BindParameter[bytes]]) -> Select[Any]:
    # A switchboard number may be shared by thousands: two holders are enough to know.
    return (
        select(subject_lookups.c.subject_id)
        .where(subject_lookups.c.digest.in_(digests))
        .distinct()
        .limit(2)
    )


def _held_by(digests: list[BindParameter[bytes]]) -> Select[Any]:
    return select(subject_lookups.c.digest).where(
        subject_lookups.c.subject_id == bindparam("subject_id"),
        subject_lookups.c.digest.in_(digests),
    )


_HAS_EMAIL = (
    select(subject_lookups.c.digest)
    .where(
        subject_lookups.c.subject_id == bindparam("subject_id"),
        subject_lookups.c.kind == ItemKind.EMAIL.value,
    )
    .limit(1)
)
_INSERT_SUBJECT = insert(subjects).values(id=bindparam("id"), created_at=bindparam("created_at"))
_INSERT_LOOKUP = insert(subject_lookups).values(
    digest=bindparam("digest"), kind=bindparam("kind"), subject_id=bindparam("subject_id")
)

_LIVE = [
    state.value
    for state in (CollectionState.ACTIVE, CollectionState.HELD, CollectionState.SUSPENDED)
]


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


class SubjectMatcher:
    """:func:`match_or_create_subject` on a DBAPI cursor, with statements prepared once.

    A statement with an ``IN`` list is prepared once per list length (at most the
    number of identifying items the policy declares).
    """

    def __init__(self, dialect: Dialect):
        self._dialect = dialect
        self._has_email = PreparedStatement(_HAS_EMAIL, dialect)
        self._insert_subject = PreparedStatement(_INSERT_SUBJECT, dialect)
        self._insert_lookup = PreparedStatement(_INSERT_LOOKUP, dialect)
        self._listed: dict[tuple[str, int], PreparedStatement] = {}

    def _with_list(
        self, build: Callable[[list[BindParameter[bytes]]], Select[Any]], digests: list[bytes]
    ) -> tuple[PreparedStatement, dict[str, bytes]]:
        key = (build.__name__, len(digests))
        prepared = self._listed.get(key)
        if prepared is None:
            names = [bindparam(f"d{i}", type_=LargeBinary()) for i in range(len(digests))]
            prepared = self._listed.setdefault(key, PreparedStatement(build(names), self._dialect))
        return prepared, {f"d{i}": digest for i, digest in enumerate(digests)}

    def match_or_create_subject(
        self, cursor: Any, *, digests: Mapping[bytes, str], now: datetime
    ) -> tuple[str, bool]:
        """The subject these identifiers belong to (rules in the module docstring).

        Returns the subject's id and whether it was created (then it has no collection).
        """
        emails = [digest for digest, kind in digests.items() if kind == ItemKind.EMAIL.value]
        subject_id: str | None = None
        if emails:
            statement, values = self._with_list(_email_holders, emails)
            by_email = [row[0] for row in statement.fetch(cursor, values)]
            if len(by_email) > 1:
                raise Conflict(
                    "the email addresses given belong to different subjects",
                    field="items",
                    code="IDENTIFIERS_DISAGREE",
                )
            subject_id = by_email[0] if by_email else None
        elif digests:
            statement, values = self._with_list(_phone_holders, list(digests))
            by_phone = [row[0] for row in statement.fetch(cursor, values)]
            if len(by_phone) == 1:
                has_email = self._has_email.fetch(cursor, {"subject_id": by_phone[0]})
                subject_id = by_phone[0] if not has_email else None
        held: set[bytes] = set()
        created = subject_id is None
        if subject_id is None:
            subject_id = str(uuid.uuid4())
            self._insert_subject.execute(cursor, {"id": subject_id, "created_at": now})
        elif digests:
            statement, values = self._with_list(_held_by, list(digests))
            rows = statement.fetch(cursor, {**values, "subject_id": subject_id})
            held = {bytes(row[0]) for row in rows}
        new = [
            {"digest": digest, "kind": kind, "subject_id": subject_id}
            for digest, kind in digests.items()
            if digest not in held
        ]
        if new:
            self._insert_lookup.execute_many(cursor, new)
        return subject_id, created


def find_subject(
    connection: Connection, *, index: BlindIndex, kind: str, value: str, actor: Actor
) -> SubjectLookup:
    """Who holds this email or phone, split into what ``actor`` may and may not see.

    At most two of each are named: enough to answer, or to call the answer ambiguous.
    """
    if kind not in (ItemKind.EMAIL.value, ItemKind.PHONE.value):
        raise InvalidInput("lookups are by email or phone", field="kind")
    cleaned = identifier(kind, value)
    if cleaned is None or cleaned.normalized is None:
        what = "an email address" if kind == ItemKind.EMAIL.value else "a phone number"
        raise InvalidInput(f"value is not {what}", field="value")
    holders = (
        select(subject_lookups.c.subject_id)
        .join(collections, collections.c.subject_id == subject_lookups.c.subject_id)
        .where(subject_lookups.c.digest == index.digest(kind, cleaned.normalized))
        .distinct()
        .limit(2)
    )
    visible = connection.execute(holders.where(_visible_to(actor))).scalars()
    if found := tuple(sorted(visible)):
        return SubjectLookup(visible=found, hidden=())
    # Destroyed data is gone: a subject with nothing else left is simply not found.
    kept = holders.where(collections.c.state != CollectionState.DESTROYED.value)
    return SubjectLookup(visible=(), hidden=tuple(sorted(connection.execute(kept).scalars())))


def _visible_to(actor: Actor) -> ColumnElement[bool]:
    """Collections ``actor`` may read: live ones of its purposes, separated ones of its holds."""
    separated = collections.c.state == CollectionState.SEPARATED.value
    if actor.all_purposes:
        return or_(collections.c.state.in_(_LIVE), separated)
    served: list[str] = []
    holds: list[str] = []
    for purpose in actor.purposes:
        base, for_hold = split_hold_purpose(purpose)
        (holds if for_hold else served).append(base)
    return or_(
        and_(collections.c.state.in_(_LIVE), collections.c.purpose.in_(served)),
        and_(separated, collections.c.purpose.in_(holds)),
    )
