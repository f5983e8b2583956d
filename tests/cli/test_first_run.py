"""First run: the officer's secrets go to a private file, and every database file is 0600."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from haechi import Engine, Settings
from tests.cli.test_cli import CHEAP_ARGON2, free_port, haechi
from tests.conftest import Database

SECRETS = "first-run-secrets.txt"


def _database_args(database: Database) -> list[str]:
    return ["--database", database.url] if database.backend == "postgresql" else []


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _check_secrets_file(data: Path, output: str, database: Database) -> None:
    """The file is 0600 and holds working credentials that the output does not show."""
    path = data / SECRETS
    assert _mode(path) == 0o600
    text = path.read_text(encoding="utf-8")
    [password] = re.findall(r"^one-time password: (\S+)$", text, re.MULTILINE)
    [uri] = re.findall(r"^totp enrolment: (otpauth://\S+)$", text, re.MULTILINE)
    totp_secret = re.findall(r"secret=([A-Z2-7]+)", uri)[0]
    assert password not in output
    assert totp_secret not in output
    assert "otpauth" not in output
    assert str(path) in output.replace("\n", "")
    overrides = {"database": {"url": database.url}} if database.backend == "postgresql" else {}
    engine = Engine.open(Settings.load(data, **overrides))
    try:
        session = engine.login(username="officer", password=password, source_ip="127.0.0.1")
        assert session.secret is not None
    finally:
        engine.close()


def test_init_writes_the_officers_secrets_to_a_private_file(
    tmp_path: Path, database: Database
) -> None:
    """It prints the path of a 0600 file holding the password and TOTP secret, not them."""
    data = tmp_path / "data"
    result = haechi("init", str(data), *_database_args(database))
    assert result.returncode == 0, result.stderr
    _check_secrets_file(data, result.stdout + result.stderr, database)
    assert _mode(data / "haechi.toml") == 0o600


def test_init_refuses_to_overwrite_secrets_left_from_an_earlier_run(tmp_path: Path) -> None:
    """It stops before creating anything when an earlier secrets file is still there."""
    data = tmp_path / "data"
    data.mkdir()
    (data / SECRETS).write_text("earlier", encoding="utf-8")
    result = haechi("init", str(data))
    assert result.returncode == 2
    assert SECRETS in result.stderr
    assert (data / SECRETS).read_text(encoding="utf-8") == "earlier"
    assert not (data / "haechi.toml").exists()


def _serve(data: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    """`haechi serve` (umask 022, as a service manager would leave it), once it is ready."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "haechi.cli", "serve", "--data", str(data), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        umask=0o022,
        env={**os.environ, "COLUMNS": "200", **CHEAP_ARGON2, "HAECHI__SERVER__PORT": str(port)},
    )
    assert server.stderr is not None
    for line in server.stderr:
        if "Application startup complete" in line:
            return server, port
    server.wait(timeout=30)
    pytest.fail("haechi serve exited before it was ready")


def _stop(server: subprocess.Popen[str]) -> str:
    server.terminate()
    stdout, _ = server.communicate(timeout=30)
    return stdout


def test_first_serve_prints_only_where_the_secrets_are(tmp_path: Path, database: Database) -> None:
    """It keeps the password and TOTP secret out of what a journal would collect."""
    data = tmp_path / "data"
    server, _ = _serve(data, *_database_args(database))
    output = _stop(server)
    _check_secrets_file(data, output, database)


def test_sqlite_files_are_private_after_init_serve_and_collect(
    tmp_path: Path, person: dict[str, str]
) -> None:
    """It creates haechi.db, separated.db and their WAL and shared-memory files 0600."""
    data = tmp_path / "data"
    assert (
        subprocess.run(
            [sys.executable, "-m", "haechi.cli", "init", str(data)],
            env={**os.environ, **CHEAP_ARGON2},
            capture_output=True,
            umask=0o022,
        ).returncode
        == 0
    )
    assert _mode(data / "haechi.db") == 0o600
    assert _mode(data / "separated.db") == 0o600
    token = haechi("tokens", "create", "--name", "crm", "-p", "service", "--data", str(data))
    server, port = _serve(data)
    try:
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/collections",
            json={
                "purpose": "service",
                "items": person,
                "consent": {"granted": True, "method": "web-form"},
            },
            headers={"Authorization": f"Bearer {token.stdout.strip()}"},
        )
        assert created.status_code == 201, created.text
        files = {path.name: _mode(path) for path in data.glob("*.db*")}
    finally:
        _stop(server)
    assert {"haechi.db", "haechi.db-wal", "haechi.db-shm", "separated.db"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)


def test_database_files_left_open_by_an_older_version_are_closed(tmp_path: Path) -> None:
    """It takes group and other permissions off an existing database file when it opens it."""
    data = tmp_path / "data"
    assert haechi("init", str(data)).returncode == 0
    for name in ("haechi.db", "separated.db"):
        os.chmod(data / name, 0o644)
    assert haechi("tokens", "list", "--data", str(data)).returncode == 0
    assert _mode(data / "haechi.db") == 0o600
    assert _mode(data / "separated.db") == 0o600
