"""``haechi sweep`` and ``haechi destruction``: the retention commands, end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from haechi import ConsentEvidence, Engine, Settings
from haechi.engine import SYSTEM
from tests.cli.test_cli import haechi, installation  # noqa: F401 (a fixture)

FUTURE = "2099-01-01T00:00:00+00:00"


def collect_one(
    installation: list[str],  # noqa: F811
    person: dict[str, str],
    *,
    ago: timedelta = timedelta(0),
) -> str:
    """Collect ``person`` for service, as if ``ago`` before now (two years: overdue now)."""
    moment = datetime.now(UTC) - ago
    engine = Engine.open(Settings.load(Path(installation[1])), clock=lambda: moment)
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
    collect_one(installation, person, ago=timedelta(days=2 * 366))
    dry = haechi("sweep", "--dry-run", "--json", *installation)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["destroyed"] == 1
    done = haechi("sweep", "--json", *installation)
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
    when = haechi("sweep", "--now", "yesterday", "--dry-run", *installation)
    assert when.returncode == 2
    assert "now must be an ISO 8601 time" in when.stderr
    later = haechi(
        "destruction", "record-paper", *args, "--method", "shredding", "--at", FUTURE, *installation
    )
    assert later.returncode == 2
    assert "at must not be in the future" in later.stderr
    listed = json.loads(haechi("destruction", "list", "--json", *installation).stdout)
    assert [p["method"] for p in listed["paper"]] == ["incineration"]


def test_sweep_at_another_time_is_a_dry_run_only(
    installation: list[str],  # noqa: F811
    person: dict[str, str],
) -> None:
    """It refuses --now without --dry-run and times without an offset (exit 2, one line)."""
    collection_id = collect_one(installation, person)
    forged = haechi("sweep", "--now", FUTURE, *installation)
    assert forged.returncode == 2
    assert forged.stderr.strip().splitlines() == ["error: --now goes with --dry-run only"]
    naive = haechi("sweep", "--now", "2099-01-01T00:00:00", "--dry-run", *installation)
    assert naive.returncode == 2
    assert len(naive.stderr.strip().splitlines()) == 1
    assert "offset" in naive.stderr
    seoul = "2099-01-01T09:00:00+09:00"
    dry = haechi("sweep", "--now", seoul, "--dry-run", "--json", *installation)
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert (report["now"], report["destroyed"], report["dry_run"]) == (FUTURE, 1, True)
    listed = json.loads(haechi("destruction", "list", "--json", *installation).stdout)
    assert listed["batches"] == []
    engine = Engine.open(Settings.load(Path(installation[1])))
    try:
        assert engine.collection(collection_id, actor=SYSTEM).state.value == "active"
    finally:
        engine.close()


def test_destruction_show_lists_what_the_officer_confirms_with_whole_ids(
    installation: list[str],  # noqa: F811
    person: dict[str, str],
) -> None:
    """It shows a batch's certificates as JSON and as tables whose ids are never cut."""
    collection_id = collect_one(installation, person, ago=timedelta(days=400))
    summary = json.loads(haechi("sweep", "--json", *installation).stdout)
    batch = summary["batch_id"]
    shown = haechi("destruction", "show", batch, "--json", *installation)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert (document["id"], document["destroyed"], document["awaiting_confirmation"]) == (
        batch,
        1,
        True,
    )
    [certificate] = document["certificates"]
    assert certificate["collection_id"] == collection_id
    assert certificate["items"] == sorted(person)
    assert (certificate["method"], certificate["reason"]) == ("crypto-shred", "expired")
    assert certificate["destroyed_at"]
    narrow = {"COLUMNS": "60"}
    table = haechi("destruction", "show", batch, *installation, env=narrow)
    assert table.returncode == 0, table.stderr
    assert batch in table.stdout
    assert collection_id in table.stdout
    assert "expired" in table.stdout
    listed = haechi("destruction", "list", *installation, env=narrow)
    assert batch in listed.stdout
    confirmed = haechi("destruction", "confirm", batch, "--by", "Park", *installation, env=narrow)
    assert batch in confirmed.stdout
    missing = haechi("destruction", "show", "no-such-batch", *installation)
    assert missing.returncode == 2
    assert "no such destruction batch" in missing.stderr
