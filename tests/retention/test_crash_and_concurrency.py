"""Crash safety and concurrent sweepers: every collection intact or destroyed, exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, func, select, update

from haechi import Engine
from haechi.crypto.keys import LocalKeyProvider
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from haechi.retention import Sweeper
from haechi.retention.separation import copy_to_separated
from haechi.storage.tables import (
    audit_events,
    collections,
    data_keys,
    destruction_batches,
    items,
    separated_items,
    separated_keys,
)
from tests.conftest import Database, FakeClock
from tests.retention.conftest import check_all_or_nothing, seed

# The child sweeps with a small chunk and reports each committed chunk on stdout.
CHILD = """
import sys
from datetime import datetime
from haechi.policy import demo_policy_text, parse_policy
from haechi.retention import Sweeper
from haechi.storage.database import create_db_engine

database = create_db_engine(sys.argv[1])
sweeper = Sweeper(database, policy=parse_policy(demo_policy_text()).policy, chunk_size=10)
def progress(stage, done, total):
    print(stage, done, flush=True)
sweeper.run(now=datetime.fromisoformat(sys.argv[2]), progress=progress)
print("finished", flush=True)
"""


@pytest.mark.parametrize("kill_after", [1, 4])
def test_kill_9_mid_sweep_leaves_all_or_nothing(
    engine: Engine,
    database: Database,
    keys: LocalKeyProvider,
    clock: FakeClock,
    kill_after: int,
) -> None:
    """It leaves each collection intact or destroyed with its certificate; a rerun finishes."""
    seed(database.engine, keys, count=200, due=clock.now - timedelta(days=1))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database.url, clock.now.isoformat()],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.stdout is not None
    for _ in range(kill_after):
        line = child.stdout.readline()
        assert line.startswith("destroy"), line
    # Killed while it works on the next chunk: no chance to roll back or clean up.
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    child.stdout.close()
    intact, destroyed = check_all_or_nothing(database.engine)
    assert destroyed >= kill_after * 10
    assert intact > 0
    report = engine.sweep()
    assert report.destroyed == intact
    assert check_all_or_nothing(database.engine) == (0, 200)


def test_concurrent_sweepers_destroy_each_collection_once(
    engine: Engine, database: Database, keys: LocalKeyProvider, clock: FakeClock
) -> None:
    """It destroys and certifies every collection exactly once when four sweepers race."""
    seed(database.engine, keys, count=300, due=clock.now - timedelta(days=1))
    policy = parse_policy(demo_policy_text()).policy
    start = threading.Barrier(4)
    totals: list[int] = []
    errors: list[BaseException] = []

    def run(name: str) -> None:
        sweeper = Sweeper(database.engine, policy=policy, name=name, chunk_size=7)
        start.wait()
        try:
            totals.append(sweeper.run(now=clock.now).destroyed)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"sweeper-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(totals) == 300
    assert check_all_or_nothing(database.engine) == (0, 300)
    with database.engine.connect() as connection:
        batches = connection.execute(select(func.sum(destruction_batches.c.destroyed))).scalar()
        events = connection.execute(
            select(func.count()).where(audit_events.c.action == "destroy")
        ).scalar()
    assert (batches, events) == (300, 300)


def _copy(engine: Engine, connection: Connection, ids: list[str]) -> None:
    """What the sweep's first step does: copy to the separated store, keys re-wrapped."""
    rows = connection.execute(
        select(collections.c.id, collections.c.purpose, collections.c.due_at).where(
            collections.c.id.in_(ids)
        )
    ).all()
    copy_to_separated(
        connection, list(rows), keys=engine.keys, policy=engine.policy.policy, now=engine.clock()
    )


def test_separation_interrupted_between_the_two_stores_is_finished(
    engine: Engine, database: Database, keys: LocalKeyProvider, clock: FakeClock
) -> None:
    """It redoes a copy to the separated store that committed without the main store's part."""
    ids = seed(database.engine, keys, count=3, due=clock.now, purpose="complaints")
    with database.engine.begin() as connection:
        # What a sweep killed after its first transaction leaves behind.
        _copy(engine, connection, ids)
    report = engine.sweep()
    assert report.separated == 3
    with database.engine.connect() as connection:
        copies = connection.execute(select(func.count()).select_from(separated_items)).scalar_one()
        keys_left = connection.execute(select(func.count()).select_from(data_keys)).scalar_one()
    assert (copies, keys_left) == (18, 0)


def test_separated_leftovers_of_destroyed_collections_are_purged(
    engine: Engine, database: Database, keys: LocalKeyProvider, clock: FakeClock
) -> None:
    """It deletes separated rows of a collection already destroyed (a commit torn on SQLite)."""
    [collection_id] = seed(database.engine, keys, count=1, due=clock.now, purpose="complaints")
    with database.engine.begin() as connection:
        _copy(engine, connection, [collection_id])
        # A WAL commit over two files that reached the main file only: destroyed
        # there, while the separated file still holds the copy.
        connection.execute(delete(data_keys).where(data_keys.c.collection_id == collection_id))
        connection.execute(delete(items).where(items.c.collection_id == collection_id))
        connection.execute(
            update(collections).where(collections.c.id == collection_id).values(state="destroyed")
        )
    engine.sweep()
    with database.engine.connect() as connection:
        left = connection.execute(select(func.count()).select_from(separated_keys)).scalar_one()
    assert left == 0


def test_destroying_a_collection_deletes_a_stale_separated_copy(
    engine: Engine, database: Database, keys: LocalKeyProvider, clock: FakeClock
) -> None:
    """It deletes a copy left in the separated store of live data it destroys, at once."""
    [collection_id] = seed(database.engine, keys, count=1, due=clock.now, purpose="complaints")
    with database.engine.begin() as connection:
        _copy(engine, connection, [collection_id])  # a sweep stopped after its copy
    engine.destroy(collection_id, actor=SYSTEM)
    with database.engine.connect() as connection:
        left = connection.execute(select(func.count()).select_from(separated_keys)).scalar_one()
    assert left == 0


# The child sweeps and kills itself at one step: no rollback, no cleanup.
DYING_CHILD = """
import os, signal, sys
from datetime import datetime
from pathlib import Path
from tests.conftest import open_keys
from haechi.policy import demo_policy_text, parse_policy
from haechi.retention import Sweeper
from haechi.storage.database import create_db_engine

def die_at(step, ids):
    if step == sys.argv[3]:
        os.kill(os.getpid(), signal.SIGKILL)

database = create_db_engine(sys.argv[1])
policy = parse_policy(demo_policy_text()).policy
keys = open_keys(Path(sys.argv[4]))
Sweeper(database, policy=policy, keys=keys, between=die_at).run(
    now=datetime.fromisoformat(sys.argv[2])
)
"""


def _separated_copy(database: Database) -> tuple[int, int]:
    with database.engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (separated_keys, separated_items)
        )


@pytest.mark.parametrize("step", ["copied", "certified"])
def test_kill_9_inside_a_separated_step_loses_nothing_and_certifies_nothing_early(
    engine: Engine,
    database: Database,
    keys: LocalKeyProvider,
    clock: FakeClock,
    step: str,
    tmp_path: Path,
) -> None:
    """It leaves the data whole (main or separated) and no certificate; a rerun finishes."""
    tmp = str(tmp_path)
    [collection_id] = seed(database.engine, keys, count=1, due=clock.now, purpose="complaints")
    if step == "certified":
        assert engine.sweep().separated == 1
        clock.advance(days=4 * 366)  # the three-year hold has ended
    child = subprocess.run(
        [sys.executable, "-c", DYING_CHILD, database.url, clock.now.isoformat(), step, tmp],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL
    assert engine.certificates() == []
    state = engine.collection(collection_id, actor=SYSTEM).state.value
    if step == "copied":
        assert state == "active"
        assert check_all_or_nothing(database.engine) == (1, 0)
        assert engine.sweep().separated == 1
    else:
        assert state == "separated"
        assert _separated_copy(database) == (1, 6)
        assert engine.sweep().destroyed == 1
        assert _separated_copy(database) == (0, 0)
        assert [c.collection_id for c in engine.certificates()] == [collection_id]
