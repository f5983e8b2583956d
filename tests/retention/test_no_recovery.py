"""Destroyed data cannot be recovered from the database files, dumps or earlier copies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from haechi import Engine
from haechi.crypto.envelope import Sealer, item_context
from haechi.crypto.keys import LocalKeyProvider
from haechi.errors import HaechiError
from haechi.storage.tables import data_keys, items, separated_items, separated_keys
from tests.conftest import Database, FakeClock, raw_storage
from tests.retention.conftest import seed


def secrets_of(database: Database, ids: list[str], *, separated: bool = False) -> list[bytes]:
    """The ciphertexts and wrapped keys of these collections, as stored."""
    key_table, item_table = (separated_keys, separated_items) if separated else (data_keys, items)
    with database.engine.connect() as connection:
        wrapped = connection.execute(
            select(key_table.c.wrapped).where(key_table.c.collection_id.in_(ids))
        ).scalars()
        sealed = connection.execute(
            select(item_table.c.sealed).where(item_table.c.collection_id.in_(ids))
        ).scalars()
        found = [bytes(value) for value in [*wrapped, *sealed]]
    assert len(found) == 7 * len(ids)
    return found


def raw_bytes(database: Database) -> bytes:
    """Every byte of the SQLite files (main, separated, WALs), or a pg_dump."""
    raw = raw_storage(database)
    if database.backend == "sqlite":
        assert database.path is not None
        names = {path.name for path in database.path.parent.glob("*.db*")}
        assert names >= {"haechi.db", "separated.db"}
    else:
        assert b"COPY haechi_separated.separated_items" in raw
    return raw


def present(needle: bytes, haystack: bytes) -> bool:
    """Whether a blob is in raw storage (as bytes) or in a dump (as bytea hex)."""
    return needle in haystack or needle.hex().encode() in haystack


def test_destroyed_collections_leave_nothing_in_files_or_dumps(
    engine: Engine, database: Database, keys: LocalKeyProvider, clock: FakeClock
) -> None:
    """It leaves neither ciphertexts nor wrapped keys of destroyed collections anywhere."""
    due = clock.now - timedelta(days=1)
    doomed = seed(database.engine, keys, count=20, due=due)
    held = seed(database.engine, keys, count=5, due=due, purpose="complaints")
    kept = seed(database.engine, keys, count=5, due=clock.now + timedelta(days=30))
    doomed_secrets = secrets_of(database, doomed)
    held_in_main = secrets_of(database, held)
    kept_secrets = secrets_of(database, kept)

    report = engine.sweep()
    assert (report.destroyed, report.separated) == (20, 5)
    held_secrets = secrets_of(database, held, separated=True)
    raw = raw_bytes(database)
    # The check can see: what is still kept is there, sealed, in both stores.
    assert all(present(blob, raw) for blob in kept_secrets)
    assert all(present(blob, raw) for blob in held_secrets)
    # The ciphertexts moved as they were; the data keys were wrapped again under the
    # separated store's own key hierarchy, and the main store's wrapping is gone.
    assert set(held_in_main[len(held) :]) <= set(held_secrets)
    assert not any(present(blob, raw) for blob in held_in_main[: len(held)])
    assert not any(present(blob, raw) for blob in doomed_secrets)
    if database.backend == "sqlite":
        assert database.path is not None
        wal = database.path.with_name("haechi.db-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed (TRUNCATE)

    clock.advance(days=3 * 366 + 10)  # the hold ends; the kept ones expired long ago
    engine.sweep()
    raw = raw_bytes(database)
    leftovers = [
        blob
        for blob in doomed_secrets + held_in_main + held_secrets + kept_secrets
        if present(blob, raw)
    ]
    assert leftovers == []


def test_copy_taken_before_destruction_cannot_be_opened_by_the_installation(
    engine: Engine, database: Database, keys: LocalKeyProvider, clock: FakeClock
) -> None:
    """It cannot open ciphertexts copied before destruction: their key is gone.

    A full backup also holds the wrapped key: docs/keys.md and
    tests/retention/test_key_epochs.py show how the key job makes that copy unreadable.
    """
    [collection_id] = seed(database.engine, keys, count=1, due=clock.now - timedelta(days=1))
    with database.engine.connect() as connection:
        copied = connection.execute(
            select(items.c.name, items.c.sealed).where(items.c.collection_id == collection_id)
        ).all()
        wrapped = connection.execute(
            select(data_keys.c.wrapped).where(data_keys.c.collection_id == collection_id)
        ).scalar_one()
    # Before: the installation opens the copy with the key it holds.
    sealer = Sealer(keys.unwrap(bytes(wrapped), context=collection_id.encode()))
    name, sealed = copied[0]
    assert sealer.open(bytes(sealed), context=item_context(collection_id, name)).startswith(name)

    engine.sweep()
    with database.engine.connect() as connection:
        key_left = connection.execute(
            select(data_keys.c.wrapped).where(data_keys.c.collection_id == collection_id)
        ).first()
    assert key_left is None
    # Any other data key (here: a fresh one) fails authentication on the copy.
    other = Sealer(LocalKeyProvider(b"\x01" * 32).derive("not-the-key"))
    with pytest.raises(HaechiError):
        other.open(bytes(sealed), context=item_context(collection_id, name))
