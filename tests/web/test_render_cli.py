"""`haechi policy render`: the document from an installation's policy file and settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.web.reading import read_html


def haechi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "haechi.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=120,
    )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / "haechi.toml").write_text("[auth]\nlockout_threshold = 8\n", encoding="utf-8")
    from haechi.policy import demo_policy_text

    (directory / "policy.toml").write_text(demo_policy_text(), encoding="utf-8")
    return directory


def test_render_writes_html_to_stdout_and_markdown_to_a_file(data: Path, tmp_path: Path) -> None:
    """It prints the Korean HTML page by default and writes English Markdown with --out."""
    page = haechi("policy", "render", "--data", str(data))
    assert page.returncode == 0, page.stderr
    document = read_html(page.stdout)
    assert document.lang == "ko"
    assert "연속 8회 실패" in document.text  # the installation's settings, not the defaults
    out = tmp_path / "policy.md"
    result = haechi(
        "policy", "render", "--lang", "en", "--format", "md", "--out", str(out), "--data", str(data)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8").startswith("# Privacy policy of DemoSoft Inc.")


@pytest.mark.parametrize(
    ("option", "value", "field"), [("--lang", "fr", "lang"), ("--format", "pdf", "format")]
)
def test_unknown_language_or_format_exits_2_with_one_line(
    data: Path, option: str, value: str, field: str
) -> None:
    """It exits 2 with one line naming the option, and prints no document."""
    result = haechi("policy", "render", option, value, "--data", str(data))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert field in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_policy_file_exits_2(data: Path) -> None:
    """It refuses to render a policy file that fails the check."""
    policy = data / "policy.toml"
    policy.write_text(
        policy.read_text(encoding="utf-8").replace('phone = "118"', 'phone = "11"'),
        encoding="utf-8",
    )
    result = haechi("policy", "render", "--data", str(data))
    assert result.returncode == 2
    assert "remedies[0].phone" in result.stderr


def test_policy_check_locates_each_published_part_problem(data: Path) -> None:
    """It exits 2 and prints each bad remedy phone, site and audit frequency with its location."""
    policy = data / "policy.toml"
    text = (
        policy.read_text(encoding="utf-8")
        .replace('phone = "182"', 'phone = "18"')
        .replace('site = "https://www.spo.go.kr"', 'site = "www.spo.go.kr"')
        .replace('frequency = "P3M"', 'frequency = "P1Y"')
    )
    policy.write_text(text, encoding="utf-8")
    result = haechi("policy", "check", str(policy))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert any("remedies[3].phone" in line for line in lines)
    assert any("remedies[2].site" in line for line in lines)
    assert any("safety_measures[0].frequency" in line for line in lines)
    assert lines[-1] == "3 problem(s) found."
