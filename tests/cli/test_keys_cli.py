"""``haechi keys``: status, run, rotate (epochs and master), reindex, end to end."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

from tests.cli.test_cli import haechi, installation  # noqa: F401 (a fixture)
from tests.cli.test_sweep_cli import collect_one


def test_status_shows_the_epochs_and_the_files_are_private(
    installation: list[str],  # noqa: F811
    person: dict[str, str],
) -> None:
    """It lists the epoch key of the collection's deadline, in a 0700 directory of 0600 files."""
    collect_one(installation, person)
    result = haechi("keys", "status", "--json", *installation)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    [epoch] = status["epochs"]
    assert (epoch["store"], epoch["data_keys"], epoch["held"]) == ("main", 1, True)
    assert status["backup_window"] == "P30D"
    directory = Path(installation[1]) / "keys"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.iterdir())
    assert any(f.name == f"{epoch['id']}.key" for f in files)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    table = haechi("keys", "status", *installation)
    assert table.returncode == 0, table.stderr
    assert epoch["id"][:12] in table.stdout


def test_run_after_a_destruction_rotates_the_epoch(
    installation: list[str],  # noqa: F811
    person: dict[str, str],
) -> None:
    """It retires the epoch of a data key the sweep shredded; the key stays for the window."""
    collect_one(installation, person, ago=timedelta(days=2 * 366))  # overdue: destroyed
    collect_one(installation, {**person, "email": "other@example.kr"})
    assert haechi("sweep", "--json", *installation).returncode == 0
    result = haechi("keys", "run", "--json", *installation)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["skipped"] is False
    assert len(report["rotated_epochs"]) == 1
    assert report["destroyed"] == []
    progress = haechi("keys", "run", *installation)
    assert progress.returncode == 0, progress.stderr
    assert "epoch keys destroyed" in progress.stdout


def test_rotate_marks_every_current_epoch_and_the_master(
    installation: list[str],  # noqa: F811
    person: dict[str, str],
) -> None:
    """It rotates epoch keys on demand, and the master key with --master."""
    collect_one(installation, person)
    rotated = json.loads(haechi("keys", "rotate", "--json", *installation).stdout)
    assert len(rotated["marked"]) == 1
    assert rotated["run"]["moved"] == 1
    master = haechi("keys", "rotate", "--master", "--json", *installation)
    assert master.returncode == 0, master.stderr
    keys = json.loads(master.stdout)["master"]
    assert keys["old_key_id"] != keys["new_key_id"]
    data = Path(installation[1])
    assert (data / f"master.key.retired-{keys['old_key_id']}").exists()
    status = json.loads(haechi("keys", "status", "--json", *installation).stdout)
    assert status["master_key_id"] == keys["new_key_id"]
    assert any(e["id"] == keys["old_key_id"] and e["store"] == "master" for e in status["epochs"])


def test_bad_input_and_reindex_end_with_exit_code_2(
    installation: list[str],  # noqa: F811
) -> None:
    """It refuses an unknown epoch and a reindex with one line and exit code 2."""
    for args in (("rotate", "--epoch", "ep-m20990101-0000000000"), ("reindex",)):
        result = haechi("keys", *args, *installation)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ")
        assert "Traceback" not in result.stderr
    bad = haechi("keys", "status", *installation, env={"HAECHI__KEYS__BACKUP_WINDOW": "30 days"})
    assert bad.returncode == 2
    assert "keys.backup_window" in bad.stderr
    assert os.environ.get("HAECHI__KEYS__BACKUP_WINDOW") is None
