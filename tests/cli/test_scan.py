"""``haechi scan`` on files: masked output, declared flags, and a gate for pipelines."""

from __future__ import annotations

import json
from pathlib import Path

from haechi.policy import demo_policy_text
from tests.cli.test_cli import haechi

ROWS = "name,rrn,phone,note\nKim,900101-1234568,010-2345-6789,ok\nLee,,02-555-0199,paid\n"


def setup(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "export"
    data.mkdir()
    (data / "people.csv").write_text(ROWS, encoding="utf-8")
    policy = tmp_path / "policy.toml"
    policy.write_text(demo_policy_text(), encoding="utf-8")
    return data, policy


def test_json_report_masks_values_and_flags_undeclared(tmp_path: Path) -> None:
    """It reports phones as declared and the resident number as undeclared, masked."""
    data, policy = setup(tmp_path)
    result = haechi("scan", str(data), "--policy", str(policy), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    declared = {row["type"]: row["declared"] for row in report["summary"]}
    assert declared == {"rrn": False, "phone": True}
    assert "900101-1234568" not in result.stdout
    assert "2345-6789" not in result.stdout


def test_fail_on_undeclared_gates_a_pipeline(tmp_path: Path) -> None:
    """It exits 1 when an undeclared kind of personal data is found."""
    data, policy = setup(tmp_path)
    result = haechi("scan", str(data), "--policy", str(policy), "--fail-on", "undeclared")
    assert result.returncode == 1
    assert "900101-1234568" not in result.stdout


def test_sarif_output(tmp_path: Path) -> None:
    """It writes SARIF 2.1.0 for code-scanning tools."""
    data, policy = setup(tmp_path)
    result = haechi("scan", str(data), "--policy", str(policy), "--format", "sarif")
    assert json.loads(result.stdout)["version"] == "2.1.0"


def test_bad_options_exit_2(tmp_path: Path) -> None:
    """It names the bad option and exits 2."""
    data, policy = setup(tmp_path)
    result = haechi("scan", str(data), "--format", "xml", "--policy", str(policy))
    assert result.returncode == 2
    assert "--format" in result.stderr
    assert haechi("scan").returncode == 2
