"""The README's tour: docs/tour.sh runs as written, and the README shows its commands."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "docs" / "tour.sh"
README = ROOT / "README.md"
STEPS = [
    "setup",
    "init",
    "serve",
    "collect",
    "read",
    "refuse",
    "lookup",
    "invalid",
    "collection",
    "withdraw",
    "sweep",
    "destroyed",
    "staff",
    "lockout",
    "role",
    "audit",
    "review",
    "scan",
    "stop",
]
PERSON = {
    "name": "김민지",
    "contact": "010-2345-6789",
    "email": "minji@example.kr",
    "company": "한빛상사",
    "department": "구매팀",
    "title": "대리",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _haechi_on_path(directory: Path) -> Path:
    """A `haechi` command that runs this checkout with this interpreter."""
    directory.mkdir()
    command = directory / "haechi"
    command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m haechi.cli "$@"\n')
    command.chmod(command.stat().st_mode | stat.S_IXUSR)
    return directory


def _steps(stdout: str) -> dict[str, str]:
    """The tour's output, cut at its `== step` headers."""
    parts = re.split(r"^== (\S+)$", stdout, flags=re.MULTILINE)
    return {name: text for name, text in zip(parts[1::2], parts[2::2], strict=True)}


def _json_line(text: str) -> dict[str, object]:
    """The first line of ``text`` that is a JSON object."""
    for line in text.splitlines():
        if line.startswith("{"):
            value = json.loads(line)
            assert isinstance(value, dict)
            return value
    pytest.fail(f"no JSON object in {text!r}")


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run docs/tour.sh once in a scratch directory; its output, step by step."""
    base = tmp_path_factory.mktemp("tour")
    work = base / "work"
    work.mkdir()
    env = {
        **os.environ,
        "PATH": f"{_haechi_on_path(base / 'bin')}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "TOUR_DIR": str(work),
        "PORT": str(_free_port()),
        "COLUMNS": "200",
        # The cheapest Argon2id the settings accept.
        "HAECHI__AUTH__ARGON2_TIME_COST": "2",
        "HAECHI__AUTH__ARGON2_MEMORY_COST_KIB": "19456",
        "HAECHI__AUTH__ARGON2_PARALLELISM": "1",
    }
    env.pop("HAECHI__DATABASE__URL", None)
    result = subprocess.run(
        ["bash", str(TOUR)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    steps = _steps(result.stdout)
    if result.returncode != 0:
        failed = list(steps)[-1] if steps else "before the first step"
        serve_log = work / "serve.log"
        log = serve_log.read_text(encoding="utf-8")[-3000:] if serve_log.exists() else ""
        pytest.fail(
            f"the tour failed in step {failed!r} (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n{log}"
        )
    return steps


def test_the_tour_runs_every_step_in_order(tour: dict[str, str]) -> None:
    """It runs the whole tour to its end, one step after another, with no step left out."""
    assert list(tour) == STEPS
    assert "tour done" in tour["stop"]


def test_the_tour_installs_and_serves(tour: dict[str, str]) -> None:
    """It initialises, shows the first-run secrets from their file, and starts the server."""
    assert "first-run-secrets.txt" in tour["init"]
    assert re.search(r"^one-time password: \S+$", tour["init"], re.MULTILINE)
    assert "otpauth://" in tour["init"]
    assert "data/policy.toml: OK" in tour["init"]
    assert '{"status":"ok"}' in tour["serve"]


def test_the_tour_collects_reads_and_refuses(tour: dict[str, str]) -> None:
    """It collects, reads back for the purpose, is refused another, and looks the person up."""
    created = _json_line(tour["collect"])
    assert created["created"] is True
    read = _json_line(tour["read"])
    assert (read["subject_id"], read["items"]) == (created["subject_id"], PERSON)
    assert tour["read"].split()[-1] == "200"
    assert _json_line(tour["refuse"])["code"] == "NO_GRANT"
    assert tour["refuse"].split()[-1] == "403"
    assert _json_line(tour["lookup"])["subject_id"] == created["subject_id"]
    invalid = _json_line(tour["invalid"])
    assert (invalid["code"], invalid["field"]) == ("INVALID_INPUT", "items.email")
    assert tour["invalid"].split()[-1] == "422"
    collection = _json_line(tour["collection"])
    assert (collection["id"], collection["state"]) == (created["collection_id"], "active")
    assert "김민지" not in tour["collection"]


def test_the_tour_destroys_the_withdrawn_collection(tour: dict[str, str]) -> None:
    """It withdraws consent, sweeps, confirms the batch and shows the collection destroyed."""
    assert tour["withdraw"].split() == ["204"]
    assert "Sweep (dry run: nothing changed)" in tour["sweep"]
    assert re.search(
        r"Batch \S+ \(1 collections\) confirmed by Chief Privacy Officer", tour["sweep"]
    )
    assert "Paper destruction" in tour["sweep"]
    destroyed = _json_line(tour["destroyed"])
    # The officer sees the whole id of what they confirm, never a cut one.
    assert destroyed["id"] in tour["sweep"]
    assert destroyed["state"] == "destroyed"
    assert destroyed["certificate_id"]


def test_the_tour_changes_staff_access_in_a_sensible_order(tour: dict[str, str]) -> None:
    """It grants and revokes a handler's purposes, locks and unlocks, then changes the role."""
    assert "Granted 'kim': complaints." in tour["staff"]
    assert "Revoked (service)." in tour["staff"]
    assert tour["lockout"].count('"code":"BAD_PASSWORD"') == 5
    assert '"locked": true' in tour["lockout"]
    assert "'kim' unlocked." in tour["lockout"]
    assert "totp enrolment: otpauth://" in tour["lockout"]
    assert "'kim' is now auditor." in tour["role"]
    assert "Revoked (account)." in tour["role"]
    changes = re.findall(r'"change": "(\w+)"', tour["role"])
    assert changes == ["create", "grant", "grant", "revoke", "revoke", "role", "disable"]


def test_the_tour_verifies_and_proves_the_log(tour: dict[str, str]) -> None:
    """It verifies the log, with and without the witness, and both proofs verify."""
    assert tour["audit"].count("OK: ") == 2
    assert "witness heads" in tour["audit"]
    assert tour["audit"].count('"verified": true') == 2
    assert '"signature"' in tour["audit"]
    assert "Reviewed by officer" in tour["review"]
    assert "failed_logins" in tour["review"]


def test_the_tour_scans_for_undeclared_data(tour: dict[str, str]) -> None:
    """It finds the undeclared registration number, masked, and exits 1 for --fail-on."""
    assert "exit code 1" in tour["scan"]
    assert "900101-1234568" not in tour["scan"]
    assert "rrn" in tour["scan"]
    assert tour["scan"].split()[-1] == "2.1.0"


def _tour_section(readme: str) -> str:
    start = readme.index("## A five-minute tour")
    return readme[start : readme.index("## The policy file", start)]


def _commands(block: str) -> list[str]:
    """A bash block's lines, less blank lines and comment lines (expected output)."""
    lines = [line.rstrip() for line in block.splitlines()]
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_tour_shows_the_scripts_commands_in_order() -> None:
    """It keeps every command line of the README's tour in docs/tour.sh, in the same order."""
    blocks = re.findall(
        r"```bash\n(.*?)```", _tour_section(README.read_text(encoding="utf-8")), re.S
    )
    assert len(blocks) >= 8
    script = [line.rstrip() for line in TOUR.read_text(encoding="utf-8").splitlines()]
    position = 0
    for line in (line for block in blocks for line in _commands(block)):
        assert line in script[position:], f"README line not in docs/tour.sh (in order): {line}"
        position = script.index(line, position) + 1
