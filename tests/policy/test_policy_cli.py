"""`haechi policy publish|versions|diff|render --version`: thin commands, one-line refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haechi import Settings
from haechi.cli.app import initialise
from haechi.policy import demo_policy_text
from tests.conftest import Database
from tests.policy.versions_helpers import variant
from tests.web.reading import read_html

Haechi = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(database: Database, tmp_path: Path) -> Haechi:
    """Run ``haechi`` on a data directory whose database is the test's."""
    data = tmp_path / "data"
    initialise(Settings.load(data), database=database.url)
    env = {**os.environ, "COLUMNS": "200"}

    def haechi(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "haechi.cli", *args, "--data", str(data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    return haechi


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _day(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def test_publish_refuses_with_one_line_and_exit_2(run: Haechi, tmp_path: Path) -> None:
    """It refuses a bad file, a repeat, a short notice and a naive time, each in one line."""
    first = _file(tmp_path, "v1.toml", demo_policy_text())
    published = run("policy", "publish", first)
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("published version 1 ")
    bad = _file(
        tmp_path, "bad.toml", demo_policy_text().replace('retention = "P6M"', 'retention = "soon"')
    )
    second = _file(tmp_path, "v2.toml", variant("v2", retention="P3M").text)
    for args in (
        (bad, "--effective", _day(30)),
        (first, "--effective", _day(30)),
        (second, "--effective", _day(3)),
        (second, "--effective", "2030-01-01T09:00:00"),
    ):
        refused = run("policy", "publish", *args)
        assert refused.returncode == 2, (args, refused.stdout)
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert refused.stderr.startswith("error: ")
    assert run("policy", "publish", second, "--effective", _day(10)).returncode == 0


def test_versions_diff_and_render_read_what_was_published(run: Haechi, tmp_path: Path) -> None:
    """It lists versions as JSON, diffs them as JSON, and renders a version as published."""
    assert run("policy", "publish", _file(tmp_path, "v1.toml", demo_policy_text())).returncode == 0
    second = _file(tmp_path, "v2.toml", variant("v2", retention="P3M", add_item=True).text)
    assert run("policy", "publish", second, "--effective", _day(10)).returncode == 0
    listed = json.loads(run("policy", "versions", "--json").stdout)
    assert [(v["n"], v["state"]) for v in listed] == [(1, "in force"), (2, "upcoming")]
    diff = json.loads(run("policy", "diff", "1", "2", "--json", "--lang", "en").stdout)
    [marketing] = diff["changes"]["purposes"]["changed"]
    assert marketing["retention"] == {"from": "P6M", "to": "P3M"}
    assert marketing["items"]["added"] == ["interests"]
    assert diff["text_diff"].startswith("--- version 1 (en)")
    assert '+<tr><th scope="row">Marketing and advertising</th><td>3 months' in diff["text_diff"]
    rendered = run("policy", "render", "--version", "2", "--lang", "en")
    assert rendered.returncode == 0, rendered.stderr
    assert read_html(rendered.stdout).headings[0] == (1, "Privacy policy of DemoSoft Inc.")
    assert "Interests" in rendered.stdout
    missing = run("policy", "render", "--version", "3")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "error: no such policy version"
