"""Re-collection: new values under a fresh key, no replay of old ciphertexts, no lost race."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Connection, delete, insert, select, text, update

from haechi import Actor, ConsentEvidence, Engine
from haechi.crypto.envelope import TamperedCiphertext
from haechi.crypto.epochs import Store
from haechi.engine import SYSTEM
from haechi.retention.destruction import lock_target, shred
from haechi.storage.keyring import open_data_key
from haechi.storage.tables import collections, data_keys, items
from tests.conftest import Database, FakeClock

YES = ConsentEvidence(granted=True, method="web-form")
SERVICE = Actor(name="crm", kind="token", purposes=frozenset({"service"}))


def _rows(engine: Engine, table: Any, collection_id: str) -> list[dict[str, Any]]:
    with engine.transaction() as connection:
        result = connection.execute(select(table).where(table.c.collection_id == collection_id))
        return [dict(row._mapping) for row in result]


def _put_back(engine: Engine, table: Any, collection_id: str, rows: list[dict[str, Any]]) -> None:
    with engine.transaction() as connection:
        connection.execute(delete(table).where(table.c.collection_id == collection_id))
        connection.execute(insert(table), rows)


def test_a_recollection_seals_under_a_fresh_key(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It replaces the wrapped data key and bumps the key version, in the same collection."""
    first = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    [old_key] = _rows(engine, data_keys, first.collection_id)
    clock.advance(days=1)
    second = engine.collect(
        purpose="service", items={**person, "title": "과장"}, consent=YES, actor=SYSTEM
    )
    assert second.collection_id == first.collection_id
    [new_key] = _rows(engine, data_keys, first.collection_id)
    assert new_key["wrapped"] != old_key["wrapped"]
    old_data_key, new_data_key = (
        open_data_key(
            engine.keys,
            store=Store.MAIN,
            key_id=row["key_id"],
            wrapped=row["wrapped"],
            collection_id=first.collection_id,
        )
        for row in (old_key, new_key)
    )
    assert old_data_key != new_data_key
    with engine.transaction() as connection:
        version = connection.execute(
            select(collections.c.key_version).where(collections.c.id == first.collection_id)
        ).scalar_one()
    assert version == 1
    assert engine.use(actor=SERVICE, subject_id=first.subject_id, purpose="service")["title"] == (
        "과장"
    )


def test_an_old_ciphertext_put_back_fails_as_tampered(
    engine: Engine, person: dict[str, str]
) -> None:
    """It refuses to open an old sealed value copied back over the new one."""
    first = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    old_items = _rows(engine, items, first.collection_id)
    engine.collect(purpose="service", items={**person, "title": "과장"}, consent=YES, actor=SYSTEM)
    [old_title] = [row for row in old_items if row["name"] == "title"]
    with engine.transaction() as connection:
        connection.execute(
            update(items)
            .where(items.c.collection_id == first.collection_id, items.c.name == "title")
            .values(sealed=old_title["sealed"])
        )
    with pytest.raises(TamperedCiphertext):
        engine.use(actor=SERVICE, subject_id=first.subject_id, purpose="service")


def test_an_old_key_and_its_ciphertexts_put_back_fail_as_tampered(
    engine: Engine, person: dict[str, str]
) -> None:
    """It refuses a whole old generation (wrapped key and items) restored over the new one."""
    first = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    old_keys = _rows(engine, data_keys, first.collection_id)
    old_items = _rows(engine, items, first.collection_id)
    engine.collect(purpose="service", items={**person, "title": "과장"}, consent=YES, actor=SYSTEM)
    _put_back(engine, items, first.collection_id, old_items)
    _put_back(engine, data_keys, first.collection_id, old_keys)
    with pytest.raises(TamperedCiphertext):
        engine.use(actor=SERVICE, subject_id=first.subject_id, purpose="service")


def lock_waiters(probe: Connection) -> int:
    """How many backends of the test database wait on a lock now (PostgreSQL)."""
    waiting = probe.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
    ).scalar_one()
    probe.rollback()
    return int(waiting)


def _wait_until_blocked(database: Database, application: str) -> None:
    """Return once a backend of ``application`` waits on a lock (bounded, no fixed sleep)."""
    deadline = time.monotonic() + 30
    with database.engine.connect() as probe:
        while time.monotonic() < deadline:
            if lock_waiters(probe):
                return
    pytest.fail(f"{application} never waited for the row lock")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_collect_waits_for_a_sweep_and_starts_a_new_collection(
    engine: Engine, database: Database, person: dict[str, str], clock: FakeClock
) -> None:
    """It waits while a sweep holds the collection, then collects anew, never under its key."""
    first = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    outcome: dict[str, Any] = {}

    def collect_again() -> None:
        try:
            outcome["result"] = engine.collect(
                purpose="service", items={**person, "title": "과장"}, consent=YES, actor=SYSTEM
            )
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    with database.engine.connect() as sweep:
        sweep.begin()
        sweep.execute(
            select(collections.c.id)
            .where(collections.c.id == first.collection_id)
            .with_for_update(skip_locked=True)
        ).one()
        collector = threading.Thread(target=collect_again)
        collector.start()
        _wait_until_blocked(database, "collect")
        shred(sweep, lock_target(sweep, first.collection_id), now=clock.now)
        sweep.commit()
    collector.join(timeout=60)
    assert not collector.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]
    assert result.created
    assert result.collection_id != first.collection_id
    assert result.subject_id == first.subject_id
    assert engine.collection(first.collection_id, actor=SYSTEM).state.value == "destroyed"
    assert _rows(engine, items, first.collection_id) == []
    values = engine.use(actor=SERVICE, subject_id=first.subject_id, purpose="service")
    assert values["title"] == "과장"
