"""The key job killed with SIGKILL mid-rotation: nothing readable becomes unreadable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from haechi import Actor, ConsentEvidence, Engine
from haechi.engine import SYSTEM
from haechi.storage.key_tables import key_epochs
from haechi.storage.tables import data_keys
from tests.conftest import PERSON, Database, FakeClock, open_keys

YES = ConsentEvidence(granted=True, method="web-form")
CRM = Actor(name="crm", kind="token", purposes=frozenset({"service"}))

# The child runs the key job and kills itself at the n-th time it reaches a step.
DYING_CHILD = """
import os, signal, sys
from datetime import datetime
from pathlib import Path
from tests.conftest import open_keys
from haechi.retention.keys import KeyJob, backup_window
from haechi.storage.database import create_db_engine

url, now, step, nth, tmp = sys.argv[1:6]
seen = []

def die_at(name):
    if name == step:
        seen.append(name)
        if len(seen) == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)

job = KeyJob(
    create_db_engine(url),
    keys=open_keys(Path(tmp)),
    window=backup_window("P0D"),
    chunk_size=3,
    between=die_at,
)
job.run(now=datetime.fromisoformat(now))
"""


def _subjects(engine: Engine, count: int) -> list[str]:
    return [
        engine.collect(
            purpose="service",
            items={**PERSON, "email": f"p{n}@example.kr", "contact": f"010-3456-{7000 + n}"},
            consent=YES,
            actor=SYSTEM,
        ).subject_id
        for n in range(count)
    ]


def _kill(database: Database, clock: FakeClock, tmp_path: Path, step: str, nth: int) -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            DYING_CHILD,
            database.url,
            clock.now.isoformat(),
            step,
            str(nth),
            str(tmp_path),
        ],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=60,
        check=False,
        capture_output=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]


def _all_readable(engine: Engine, subjects: list[str]) -> bool:
    return all(
        engine.use(actor=CRM, subject_id=subject, purpose="service")["name"] == PERSON["name"]
        for subject in subjects
    )


@pytest.mark.parametrize(("step", "nth"), [("wrapped", 1), ("wrapped", 3), ("recorded", 1)])
def test_kill_9_during_the_key_job_loses_no_live_data_and_a_rerun_finishes(
    engine: Engine,
    database: Database,
    clock: FakeClock,
    tmp_path: Path,
    step: str,
    nth: int,
) -> None:
    """It keeps every live collection readable after a SIGKILL; the next run completes."""
    subjects = _subjects(engine, 10)
    doomed = engine.collect(
        purpose="service", items={**PERSON, "email": "gone@example.kr"}, consent=YES, actor=SYSTEM
    )
    with database.engine.connect() as connection:
        [first] = connection.execute(select(key_epochs.c.id)).scalars().all()
    engine.destroy(doomed.collection_id, actor=SYSTEM)

    _kill(database, clock, tmp_path, step, nth)
    # A fresh provider reads only what is on disk: the killed child's cache is gone.
    after_kill = Engine(
        database=database.engine, policy=engine.policy, keys=open_keys(tmp_path), clock=clock
    )
    assert _all_readable(after_kill, subjects)

    clock.advance(days=31)  # past the engine's backup window (P30D)
    report = after_kill.run_keys(actor=SYSTEM)
    assert not report.skipped  # the dead child's claim does not block the rerun
    assert _all_readable(after_kill, subjects)
    with database.engine.connect() as connection:
        on_first = connection.execute(
            select(func.count()).where(data_keys.c.key_id == first)
        ).scalar_one()
        destroyed = connection.execute(
            select(key_epochs.c.destroyed_at).where(key_epochs.c.id == first)
        ).scalar_one()
    assert on_first == 0
    assert destroyed is not None
    assert not after_kill.keys.has_epoch(first)


def test_an_epoch_whose_row_was_lost_is_adopted_and_rotated(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It adopts an epoch named by data keys but missing from key_epochs (a torn commit)."""
    subjects = _subjects(engine, 3)
    with database.engine.begin() as connection:
        [lost] = connection.execute(select(key_epochs.c.id)).scalars().all()
        connection.execute(key_epochs.delete())
    engine.run_keys(actor=SYSTEM)
    assert _all_readable(engine, subjects)
    with database.engine.connect() as connection:
        adopted = connection.execute(
            select(key_epochs.c.retired_at).where(key_epochs.c.id == lost)
        ).scalar_one()
        still = connection.execute(
            select(func.count()).where(data_keys.c.key_id == lost)
        ).scalar_one()
    assert adopted is not None
    assert still == 0
    clock.advance(days=31)
    assert engine.run_keys(actor=SYSTEM).destroyed == [lost]
    assert _all_readable(engine, subjects)
