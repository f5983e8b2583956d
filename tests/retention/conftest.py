"""Helpers for retention tests: many due collections, sealed for real, inserted in bulk."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import func, insert, select

from haechi.crypto.envelope import Sealer, item_context
from haechi.crypto.keys import KeyProvider, new_data_key
from haechi.storage.tables import (
    collections,
    data_keys,
    destruction_certificates,
    items,
    policy_versions,
    subjects,
)

ITEMS = ("name", "contact", "email", "company", "department", "title")


def seed(
    database: SqlEngine,
    keys: KeyProvider,
    *,
    count: int,
    due: datetime,
    purpose: str = "service",
) -> list[str]:
    """Insert ``count`` collections due at ``due``, each with six sealed items; their ids."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with database.begin() as connection:
        version = connection.execute(select(policy_versions.c.id)).scalars().first()
        assert version is not None, "make an Engine first: it registers the policy"
        connection.execute(insert(subjects), [{"id": i, "created_at": due} for i in ids])
        connection.execute(
            insert(collections),
            [
                {
                    "id": i,
                    "subject_id": i,
                    "purpose": purpose,
                    "state": "active",
                    "policy_version": version,
                    "consented": True,
                    "collected_at": due,
                    "updated_at": due,
                    "expires_at": due,
                    "due_at": due,
                    "channel": "test",
                }
                for i in ids
            ],
        )
        key_rows, item_rows = [], []
        for i in ids:
            data_key = new_data_key()
            key_rows.append(
                {
                    "collection_id": i,
                    "key_id": keys.key_id,
                    "wrapped": keys.wrap(data_key, context=i.encode()),
                }
            )
            sealer = Sealer(data_key)
            for name in ITEMS:
                item_rows.append(
                    {
                        "collection_id": i,
                        "name": name,
                        "sealed": sealer.seal(f"{name} of {i}", context=item_context(i, name)),
                    }
                )
        connection.execute(insert(data_keys), key_rows)
        connection.execute(insert(items), item_rows)
    return ids


def check_all_or_nothing(database: SqlEngine) -> tuple[int, int]:
    """Assert each collection is intact, or destroyed with exactly one certificate.

    Returns (intact, destroyed).
    """
    with database.connect() as connection:
        states = dict(connection.execute(select(collections.c.id, collections.c.state)).all())
        item_counts = dict(
            connection.execute(
                select(items.c.collection_id, func.count()).group_by(items.c.collection_id)
            ).all()
        )
        with_key = set(connection.execute(select(data_keys.c.collection_id)).scalars())
        certified = list(
            connection.execute(select(destruction_certificates.c.collection_id)).scalars()
        )
    assert len(certified) == len(set(certified)), "a collection was certified twice"
    intact = destroyed = 0
    for collection_id, state in states.items():
        if state == "destroyed":
            assert collection_id not in with_key
            assert item_counts.get(collection_id, 0) == 0
            assert collection_id in certified
            destroyed += 1
        else:
            assert state == "active"
            assert collection_id in with_key
            assert item_counts.get(collection_id) == len(ITEMS)
            assert collection_id not in certified
            intact += 1
    return intact, destroyed
