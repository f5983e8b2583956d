"""Audit event ids are 64-bit and never reused, on both databases, old and migrated."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from haechi import Engine
from haechi.audit.events import record_event
from haechi.errors import NotFound
from haechi.storage.database import create_db_engine
from haechi.storage.migrate import alembic_config, current_revision, head_revision, upgrade
from tests.conftest import Database, FakeClock

BEYOND_32_BITS = 3_000_000_000

# Every column that holds an event id (or counts leaves, which follow event ids).
EVENT_ID_COLUMNS = [
    ("audit_events", "id"),
    ("audit_leaves", "event_id"),
    ("audit_leaves", "leaf_index"),
    ("tree_heads", "size"),
    ("tree_heads", "sealed_through"),
    ("audit_prune_permits", "upto_event"),
    ("audit_gaps", "low"),
    ("audit_gaps", "high"),
    ("monitor_cursors", "next_leaf"),
]


def log_one(engine: Engine, clock: FakeClock) -> int:
    with engine.transaction() as connection:
        return record_event(
            connection, now=clock.now, actor="kim", actor_kind="staff", action="view"
        )


def jump_ids(database: Database, to: int) -> None:
    """Move the event id counter to ``to``, as years of traffic would."""
    with database.engine.begin() as connection:
        if database.backend == "postgresql":
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('audit_events', 'id'), :to)"),
                {"to": to},
            )
        else:
            connection.execute(
                text("UPDATE sqlite_sequence SET seq = :to WHERE name = 'audit_events'"),
                {"to": to},
            )


def test_every_event_id_column_is_64_bit_on_postgresql(database: Database) -> None:
    """It stores event ids, and every column that refers to them, as BIGINT."""
    if database.backend == "sqlite":
        pytest.skip("SQLite's INTEGER is always 64-bit")
    with database.engine.connect() as connection:
        types = {
            (row.table_name, row.column_name): row.data_type
            for row in connection.execute(
                text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = current_schema()"
                )
            )
        }
        sequence = connection.execute(
            text(
                "SELECT data_type FROM information_schema.sequences "
                "WHERE sequence_name = 'audit_events_id_seq'"
            )
        ).scalar_one()
    assert {column: types[column] for column in EVENT_ID_COLUMNS} == dict.fromkeys(
        EVENT_ID_COLUMNS, "bigint"
    )
    assert sequence == "bigint"


def test_an_event_beyond_32_bits_is_logged_sealed_and_proven(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It logs, seals, verifies and proves an event whose id does not fit 32 bits."""
    log_one(engine, clock)
    jump_ids(database, BEYOND_32_BITS)
    event_id = log_one(engine, clock)
    assert event_id == BEYOND_32_BITS + 1
    assert engine.seal_all() == 2
    report = engine.verify_log()
    assert report.ok, report.problems
    assert engine.prove(event_id).verify()
    with pytest.raises(NotFound):
        engine.prove(BEYOND_32_BITS)


def test_ids_never_restart_after_a_prune_removed_every_event(
    engine: Engine, clock: FakeClock
) -> None:
    """It gives the first event after a full prune an id above every pruned one."""
    for _ in range(5):
        log_one(engine, clock)
    assert engine.seal_all() == 5
    old_max = max(event.id for event in engine.events())
    clock.advance(days=800)
    assert engine.prune_log().events_removed == 5
    # The prune's own event came into an empty table.
    (prune_event,) = engine.events()
    assert prune_event.action == "log_prune"
    assert prune_event.id > old_max
    assert log_one(engine, clock) > prune_event.id
    report = engine.verify_log()
    assert report.ok, report.problems


def test_migration_keeps_rows_triggers_and_ids_above_pruned_ones(tmp_path: Path) -> None:
    """It rebuilds SQLite's event table with its rows and triggers, ids never reused."""
    database = create_db_engine(f"sqlite:///{tmp_path / 'haechi.db'}")
    upgrade(database, "0004_retention")
    with database.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (id, occurred_at, actor, actor_kind, action, items, "
                "outcome) VALUES (7, '2026-03-02 09:00:00.000000', 'kim', 'staff', 'view', "
                "'[]', 'allowed')"
            )
        )
        # A head whose watermark names ids a prune has since removed.
        connection.execute(
            text(
                "INSERT INTO tree_heads (size, root, signed_at, prev_hash, key_id, signature, "
                "compact, pruned_below, sealed_through) VALUES (40, zeroblob(32), "
                "'2026-03-02 09:00:00.000000', zeroblob(32), 'k', zeroblob(64), x'', 0, 40)"
            )
        )
    upgrade(database)
    with database.begin() as connection:
        assert connection.execute(text("SELECT id FROM audit_events")).scalars().all() == [7]
        with pytest.raises(DatabaseError, match="append-only"):
            connection.execute(text("UPDATE audit_events SET actor = 'x'"))
    with database.begin() as connection, pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text("DELETE FROM audit_events"))
    with database.begin() as connection:
        new_id = connection.execute(
            text(
                "INSERT INTO audit_events (occurred_at, actor, actor_kind, action, items, "
                "outcome) VALUES ('2026-03-02 09:00:00.000000', 'kim', 'staff', 'view', "
                "'[]', 'allowed') RETURNING id"
            )
        ).scalar_one()
    assert new_id == 41
    database.dispose()


def test_downgrade_and_upgrade_again(database: Database) -> None:
    """It steps back below the 64-bit migration and forward again, keeping the rows."""
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (occurred_at, actor, actor_kind, action, items, "
                "outcome) VALUES (CURRENT_TIMESTAMP, 'kim', 'staff', 'view', '[]', 'allowed')"
            )
        )
    command.downgrade(alembic_config(database.engine), "0004_retention")
    assert current_revision(database.engine) == "0004_retention"
    upgrade(database.engine)
    assert current_revision(database.engine) == head_revision()
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 1
