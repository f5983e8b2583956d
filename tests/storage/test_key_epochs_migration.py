"""Upgrading a database with data to key epochs (0011): master-wrapped keys move to epochs."""

from __future__ import annotations

from datetime import timedelta

from alembic import command

from haechi import Actor, Engine
from haechi.engine import SYSTEM
from haechi.storage.migrate import alembic_config, current_revision, head_revision, upgrade
from tests.conftest import Database, FakeClock
from tests.retention.conftest import seed

CRM = Actor(name="crm", kind="token", purposes=frozenset({"service"}))


def test_an_upgraded_database_keeps_reading_and_moves_its_keys_to_epochs(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It reads data keys wrapped by the master before and after the key job re-wraps them."""
    # The revision before key epochs, whatever the chain is named.
    command.downgrade(alembic_config(database.engine), "0011_key_epochs-1")
    try:
        ids = seed(database.engine, engine.keys, count=4, due=clock.now + timedelta(days=90))
    finally:
        upgrade(database.engine)
    assert current_revision(database.engine) == head_revision()
    assert engine.key_status(actor=SYSTEM).legacy_data_keys == 4
    for collection_id in ids:  # before the key job: opened by the master key
        values = engine.use(actor=CRM, subject_id=collection_id, purpose="service")
        assert values["name"] == f"name of {collection_id}"
    assert engine.run_keys(actor=SYSTEM).upgraded == 4
    assert engine.key_status(actor=SYSTEM).legacy_data_keys == 0
    for collection_id in ids:
        values = engine.use(actor=CRM, subject_id=collection_id, purpose="service")
        assert values["name"] == f"name of {collection_id}"
