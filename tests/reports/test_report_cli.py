"""``haechi report`` and ``haechi staff training``: output, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import haechi


def test_report_cli_writes_html_json_and_refuses_a_bad_quarter(tmp_path: Path) -> None:
    """It writes the page, prints JSON, attests a measure, and exits 2 on a bad quarter."""
    data = tmp_path / "data"
    assert haechi("init", str(data)).returncode == 0
    page = tmp_path / "report.html"
    made = haechi(
        "report", "quarterly", "2026Q4", "--lang", "en", "--out", str(page), "--data", str(data)
    )
    assert made.returncode == 0, made.stderr
    assert page.read_text().count("<h1>") == 1
    assert (
        haechi("report", "quarterly", "2026Q4", "--lang", "fr", "--data", str(data)).returncode == 2
    )
    figures = json.loads(
        haechi("report", "quarterly", "2026Q4", "--json", "--data", str(data)).stdout
    )
    assert figures["quarter"] == "2026Q4"
    assert figures["timezone"] == "Asia/Seoul"
    bad = haechi("report", "quarterly", "2026Q5", "--data", str(data))
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "quarter" in bad.stderr
    attested = haechi(
        "report",
        "attest",
        "2026Q4",
        "--measure",
        "locked_storage",
        "--note",
        "ok",
        "--data",
        str(data),
    )
    assert attested.returncode == 0, attested.stderr
    register = json.loads(
        haechi("report", "register", "2026Q4", "--json", "--data", str(data)).stdout
    )
    assert "locked_storage" not in register["missing"]
    assert (
        haechi(
            "staff",
            "training",
            "add",
            "nobody",
            "--course",
            "c",
            "--date",
            "2026-01-01",
            "--data",
            str(data),
        ).returncode
        == 2
    )
    listed = haechi("staff", "training", "list", "--json", "--data", str(data))
    assert listed.returncode == 0
    assert json.loads(listed.stdout) == []
