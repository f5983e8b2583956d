"""A full disk under SQLite: 507 STORAGE_FULL, no corruption, nothing acknowledged lost.

The data directory lives on a tmpfs of its own (8 MiB), mostly taken by a ballast file;
a real ``haechi serve`` collects until the file system is full, then the last bytes are
taken too. Removing the ballast gives the space back.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability import full_disk
from tests.reliability.live import prepare
from tests.serving import haechi

pytestmark = pytest.mark.slow

DISK = "8m"
MARGIN = 1_000_000  # bytes left free for the server once the ballast is written


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of :data:`DISK` mounted for this test (root only; CI must be able to)."""
    with full_disk.small_tmpfs(tmp_path / "disk", DISK) as mount_point:
        yield mount_point


def _unsealed(data_dir: Path) -> int:
    """Events not yet under a signed tree head."""
    with contextlib.closing(sqlite3.connect(data_dir / "haechi.db")) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM audit_events WHERE id NOT IN (SELECT event_id FROM audit_leaves)"
        ).fetchone()
    return int(count)


def test_a_full_disk_refuses_with_507_and_loses_nothing(small_disk: Path) -> None:
    """It answers 201 or 507 only, keeps every 201 readable and the files intact, and recovers."""
    data_dir = small_disk / "data"
    # The monitors seal too, before they look: kept out of the way, only the sealer seals.
    seeded = prepare(data_dir, settings="[monitor]\ninterval_seconds = 3600\n")
    ballast = full_disk.Ballast(small_disk, MARGIN)
    with full_disk.serving(data_dir, seeded["token"]) as run:
        run.exhaust(ballast, prefix="disk", collection_id=seeded["collection_id"])
        # The CLI: one line and exit code 2, and no half-written file to trip on later.
        full_disk.assert_refused_in_one_line(haechi("init", str(small_disk / "second")))

        ballast.remove()
        again = haechi("init", str(small_disk / "second"))
        assert again.returncode == 0, again.stdout + again.stderr
        run.recover()
        full_disk.wait_sealed(lambda: _unsealed(data_dir))

    print(f"\nanswers: {dict(run.answers)}; acknowledged and read back: {len(run.acknowledged)}")
    full_disk.assert_clean(run)
    for name in ("haechi.db", "separated.db"):
        with contextlib.closing(sqlite3.connect(data_dir / name)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    verified = haechi("audit", "verify", "--data", str(data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(verified.stdout.strip())
