"""SQLite's WAL checkpoint off the requests' path, in a job of ``haechi serve``.

A serving engine's connections checkpoint themselves only past a bound (10,000 pages),
every other engine's past SQLite's default (1,000); the job's PASSIVE checkpoint
copies every frame no reader still needs into the main and the separated file. A
serving engine's connections also read without a memory map, every other's through one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from haechi import ConsentEvidence, Engine, Settings
from haechi.engine import SYSTEM
from haechi.jobs import SERVER_JOBS
from haechi.storage.database import BACKGROUND_AUTOCHECKPOINT, MEMORY_MAP_BYTES, checkpoint
from tests.conftest import PERSON


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    made = subprocess.run(
        [sys.executable, "-m", "haechi.cli", "init", str(data)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    return data


def _pragma(engine: Engine, name: str) -> int:
    dbapi = engine.database.raw_connection()
    try:
        cursor = dbapi.cursor()
        cursor.execute(f"PRAGMA {name}")
        (value,) = cursor.fetchone()
        return int(value)
    finally:
        dbapi.close()


def _threshold(engine: Engine) -> int:
    return _pragma(engine, "wal_autocheckpoint")


def test_a_serving_engine_leaves_the_checkpoint_to_its_job(data: Path) -> None:
    """Its connections wait for 10,000 pages; the job's round copies the whole WAL."""
    serving = Engine.open(Settings.load(data), serving=True)
    plain = Engine.open(Settings.load(data))
    try:
        assert _threshold(serving) == BACKGROUND_AUTOCHECKPOINT
        assert _threshold(plain) == 1000
        for n in range(40):
            serving.collect(
                purpose="service",
                items={**PERSON, "email": f"wal{n}@example.kr"},
                consent=ConsentEvidence(granted=True, method="web-form"),
                actor=SYSTEM,
            )
        job = next(job for job in SERVER_JOBS if job.name == "checkpoint")
        assert job.sqlite_only
        job.make(serving, None)()  # one round of the job
        frames, copied = checkpoint(serving.database)
        assert frames > 0  # the WAL held the collections…
        assert copied == frames  # …and all of it is in the database files now
    finally:
        serving.close()
        plain.close()


def test_without_the_interval_a_serving_engine_checkpoints_as_sqlite_does(data: Path) -> None:
    """``database.checkpoint_interval_seconds = 0``: SQLite's own 1,000 pages."""
    with (data / "haechi.toml").open("a", encoding="utf-8") as file:
        file.write("\n[database]\ncheckpoint_interval_seconds = 0\n")
    serving = Engine.open(Settings.load(data), serving=True)
    try:
        assert _threshold(serving) == 1000
    finally:
        serving.close()


def test_a_serving_engine_reads_without_a_memory_map(data: Path) -> None:
    """Its many connections would each remap the growing file; one thread gains by it."""
    serving = Engine.open(Settings.load(data), serving=True)
    plain = Engine.open(Settings.load(data))
    try:
        assert _pragma(serving, "mmap_size") == 0
        assert _pragma(plain, "mmap_size") == MEMORY_MAP_BYTES
    finally:
        serving.close()
        plain.close()
