"""run_scan and its report: summary, JSON, SARIF, exit codes, progress."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from haechi.discovery import run_scan
from haechi.errors import InvalidInput

CONTENT = "담당 010-2345-6789\n주민번호 900101-1234568\nmail kim@example.com\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory with one file holding three identifiers and a hidden file."""
    (tmp_path / "notes.txt").write_text(CONTENT, encoding="utf-8")
    (tmp_path / ".hidden").write_text("010-9999-8888\n", encoding="utf-8")
    return tmp_path


def test_summary_counts_per_type_and_file(tree: Path) -> None:
    """It lists undeclared types first, with counts per file."""
    report = run_scan([tree], declared_types={"phone"}, engine="re")
    rows = [(r.type, Path(r.resource).name, r.count, r.declared) for r in report.summary()]
    assert rows == [
        ("email", "notes.txt", 1, False),
        ("rrn", "notes.txt", 1, False),
        ("phone", "notes.txt", 1, True),
    ]
    assert report.by_type() == {"rrn": 1, "phone": 1, "email": 1}
    assert report.files_scanned == 1


def test_exit_code_gates_a_pipeline(tree: Path) -> None:
    """It returns 1 only when the fail-on condition matches."""
    everything = {"rrn", "phone", "email"}
    assert run_scan([tree], engine="re").exit_code("undeclared") == 1
    assert run_scan([tree], declared_types=everything, engine="re").exit_code("undeclared") == 0
    assert run_scan([tree], declared_types=everything, engine="re").exit_code("any") == 1
    assert run_scan([tree], engine="re").exit_code(None) == 0
    with pytest.raises(InvalidInput):
        run_scan([tree], engine="re").exit_code("sometimes")


def test_json_never_holds_a_value(tree: Path) -> None:
    """It renders JSON with masked values only."""
    document = json.dumps(run_scan([tree], engine="re").to_json(), ensure_ascii=False)
    for value in ("010-2345-6789", "900101-1234568", "kim@example.com"):
        assert value not in document
    assert '"findings": 3' in document


def test_sarif_follows_2_1_0(tree: Path) -> None:
    """It renders a SARIF 2.1.0 log with rules, levels and regions."""
    sarif = run_scan([tree], declared_types={"phone"}, engine="re").to_sarif()
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert "haechi/rrn" in rule_ids
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"haechi/phone": "note", "haechi/rrn": "error", "haechi/email": "error"}
    rrn = next(r for r in run["results"] if r["ruleId"] == "haechi/rrn")
    region = rrn["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 2, "startColumn": 6}
    assert rule_ids[rrn["ruleIndex"]] == "haechi/rrn"
    assert "900101-1234568" not in json.dumps(sarif)


def test_it_keeps_counting_past_max_findings(tree: Path) -> None:
    """It stops listing findings at the limit but counts them all."""
    report = run_scan([tree], engine="re", max_findings=1)
    assert len(report.findings) == 1
    assert report.total == 3
    assert report.truncated


def test_it_reports_progress_in_bytes(tree: Path) -> None:
    """It calls progress with bytes done and bytes in all."""
    calls: list[tuple[int, int]] = []
    run_scan([tree], engine="re", progress=lambda done, total: calls.append((done, total)))
    size = len(CONTENT.encode("utf-8"))
    assert calls[0] == (0, size)
    assert calls[-1] == (size, size)


def test_it_skips_hidden_files_unless_asked(tree: Path) -> None:
    """It leaves dot-files out by default."""
    assert run_scan([tree], engine="re").total == 3
    assert run_scan([tree], engine="re", include_hidden=True).total == 4


def test_it_lists_skipped_binary_files(tree: Path) -> None:
    """It records a binary file as skipped with a reason."""
    (tree / "image.bin").write_bytes(b"\x89PNG\x00\x00" * 10)
    report = run_scan([tree], engine="re")
    assert [(Path(s.source).name, s.reason) for s in report.skipped] == [
        ("image.bin", "binary file")
    ]


def test_it_refuses_missing_paths_and_bad_workers(tmp_path: Path) -> None:
    """It names the field at fault before doing any work."""
    with pytest.raises(InvalidInput) as missing:
        run_scan([tmp_path / "nope"])
    assert missing.value.field == "paths"
    with pytest.raises(InvalidInput) as workers:
        run_scan([tmp_path], workers=0)
    assert workers.value.field == "workers"
