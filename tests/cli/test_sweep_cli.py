"""``haechi sweep`` and ``haechi destruction``: the retention commands, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from haechi import ConsentEvidence, Engine, Settings
from haechi.engine import SYSTEM
from tests.cli.test_cli import haechi, installation  # noqa: F401 (a fixture)


def collect_one(installation: list[str], person: dict[str, str]) -> str:  # noqa: F811
    engine = Engine.open(Settings.load(Path(installation[1])))
    try:
        result = engine.collect(
            purpose="service",
            items=person,
            consent=ConsentEvidence(granted=True, method="paper"),
            actor=SYSTEM,
        )
    finally:
        engine.close()
    return result.collection_id


def test_sweep_destroys_and_the_officer_confirms(
    installation: list[str],  # noqa: F811
    person: dict[str, str],
) -> None:
    """It reports a dry run, destroys, lists the batch as awaiting, and records confirmation."""
    collect_one(installation, person)
    later = "2099-01-01T00:00:00+00:00"
    dry = haechi("sweep", "--now", later, "--dry-run", "--json", *installation)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["destroyed"] == 1
    done = haechi("sweep", "--now", later, "--json", *installation)
    summary = json.loads(done.stdout)
    assert (summary["expired"], summary["destroyed"], summary["overdue"]) == (1, 1, 1)
    listed = json.loads(haechi("destruction", "list", "--json", *installation).stdout)
    [batch] = listed["batches"]
    assert (batch["id"], batch["awaiting_confirmation"]) == (summary["batch_id"], True)
    assert listed["overdue"] == []
    confirm = haechi("destruction", "confirm", batch["id"], "--by", "Park", *installation)
    assert confirm.returncode == 0, confirm.stderr
    again = haechi("destruction", "confirm", batch["id"], "--by", "Park", *installation)
    assert again.returncode == 2
    assert again.stderr.startswith("error: ")
    assert "Traceback" not in again.stderr
    listed = json.loads(haechi("destruction", "list", "--json", *installation).stdout)
    assert listed["batches"][0]["confirmed_by"] == "Park"
    table = haechi("sweep", *installation)
    assert table.returncode == 0, table.stderr
    assert "expired" in table.stdout
    assert "destroyed" in table.stdout


def test_record_paper_and_bad_input(installation: list[str]) -> None:  # noqa: F811
    """It records paper destruction and refuses an unknown method or time with exit 2."""
    args = ["--what", "2025 consent forms, box 3", "--by", "Kim", "--witness", "Lee"]
    ok = haechi("destruction", "record-paper", *args, "--method", "incineration", *installation)
    assert ok.returncode == 0, ok.stderr
    bad = haechi("destruction", "record-paper", *args, "--method", "burial", *installation)
    assert bad.returncode == 2
    assert "shredding or incineration" in bad.stderr
    when = haechi("sweep", "--now", "yesterday", *installation)
    assert when.returncode == 2
    assert "now must be an ISO 8601 time" in when.stderr
    listed = json.loads(haechi("destruction", "list", "--json", *installation).stdout)
    assert [p["method"] for p in listed["paper"]] == ["incineration"]
