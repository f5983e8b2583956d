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
