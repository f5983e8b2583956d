"""Forgetting who a destroyed subject was: their blind-index entries.

A subject's email and phone digests exist so that the person can be found again. Once
every collection of the subject is destroyed, nothing is left to find, and a digest
kept for ever would still confirm, to anyone holding the index key, that this address
was once a customer's. So the destruction that leaves a subject with nothing live
deletes their digests in the same transaction; the subject row (an id and a date) stays
for the certificates and the access log that refer to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, exists, select

from haechi.access.decision import CollectionState
from haechi.storage.tables import collections, subject_lookups

__all__ = ["forget_identifiers"]


def forget_identifiers(connection: Connection, collection_ids: Sequence[str]) -> int:
    """Delete the digests of the subjects of ``collection_ids`` who have nothing left.

    Call it after those collections are marked destroyed, in the same transaction.
    Returns how many digests went.
    """
    if not collection_ids:
        return 0
    owners = (
        select(collections.c.subject_id)
        .where(collections.c.id.in_(list(collection_ids)))
        .scalar_subquery()
    )
    still_held = exists().where(
        collections.c.subject_id == subject_lookups.c.subject_id,
        collections.c.state != CollectionState.DESTROYED.value,
    )
    result = connection.execute(
        delete(subject_lookups).where(subject_lookups.c.subject_id.in_(owners), ~still_held)
    )
    return result.rowcount or 0
