"""The ``haechi`` command: init, policy check, tokens, and the README's tour over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from haechi.policy import demo_policy_text
from tests.conftest import Database

# Argon2id at the lowest cost the settings accept (OWASP's floor, some 30 ms a hash).
CHEAP_ARGON2 = {
    "HAECHI__AUTH__ARGON2_TIME_COST": "2",
    "HAECHI__AUTH__ARGON2_MEMORY_COST_KIB": "19456",
    "HAECHI__AUTH__ARGON2_PARALLELISM": "1",
}


def haechi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "haechi.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **CHEAP_ARGON2, **(env or {})},
        timeout=120,
    )


def test_init_creates_a_private_data_directory(tmp_path: Path) -> None:
    """It writes settings, the demo policy, a 0600 key and the database, and the secrets file."""
    data = tmp_path / "data"
    result = haechi("init", str(data))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in data.iterdir()} >= {
        "haechi.toml",
        "policy.toml",
        "master.key",
        "haechi.db",
    }
    assert (data / "master.key").stat().st_mode & 0o777 == 0o600
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "policy.toml").read_text(encoding="utf-8") == demo_policy_text()
    assert "first-run-secrets.txt" in result.stdout


def test_init_twice_is_refused(tmp_path: Path) -> None:
    """It exits 2 with a message rather than overwriting an installation."""
    assert haechi("init", str(tmp_path / "d")).returncode == 0
    again = haechi("init", str(tmp_path / "d"))
    assert again.returncode == 2
    assert "already initialised" in again.stderr
    assert "Traceback" not in again.stderr


def test_policy_check_prints_every_problem(tmp_path: Path) -> None:
    """It lists each problem with its location and exits 2."""
    path = tmp_path / "policy.toml"
    path.write_text(
        demo_policy_text().replace("days = 7", "days = 1").replace('"P6M"', '"P0M"'),
        encoding="utf-8",
    )
    result = haechi("policy", "check", str(path))
    assert result.returncode == 2
    assert "notice.days" in result.stderr
    assert "purposes.marketing.retention" in result.stderr
    path.write_text("version = \n", encoding="utf-8")
    malformed = haechi("policy", "check", str(path))
    assert malformed.returncode == 2
    assert "line 1" in malformed.stderr


def test_policy_check_accepts_the_demo(tmp_path: Path) -> None:
    """It exits 0 on a valid policy."""
    path = tmp_path / "policy.toml"
    path.write_text(demo_policy_text(), encoding="utf-8")
    assert haechi("policy", "check", str(path)).returncode == 0


def test_commands_on_a_missing_data_directory_explain(tmp_path: Path) -> None:
    """It tells the user to run `haechi init` instead of failing obscurely."""
    result = haechi("tokens", "list", "--data", str(tmp_path / "none"))
    assert result.returncode == 2
    assert "haechi init" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def installation(tmp_path: Path, database: Database) -> list[str]:
    """Arguments naming a fresh data directory on the test database."""
    data = tmp_path / "data"
    args = ["--database", database.url] if database.backend == "postgresql" else []
    result = haechi("init", str(data), *args)
    assert result.returncode == 0, result.stderr
    return ["--data", str(data)]


def test_tokens_create_list_revoke(installation: list[str]) -> None:
    """It prints a secret once, lists tokens as JSON without secrets, and revokes."""
    created = haechi("tokens", "create", "--name", "crm", "--purpose", "service", *installation)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("hct_")
    listed = haechi("tokens", "list", "--json", *installation)
    [token] = json.loads(listed.stdout)
    assert token["name"] == "crm"
    assert token["purposes"] == ["service"]
    assert secret not in listed.stdout
    assert haechi("tokens", "revoke", "crm", *installation).returncode == 0
    assert json.loads(haechi("tokens", "list", "--json", *installation).stdout)[0]["revoked_at"]
    bad = haechi("tokens", "create", "--name", "x", "--purpose", "lottery", *installation)
    assert bad.returncode == 2
    assert "lottery" in bad.stderr


def test_readme_tour_over_http(installation: list[str], person: dict[str, str]) -> None:
    """It serves the API: collect, read back, refuse another purpose, seal the log."""
    secret = haechi(
        "tokens", "create", "--name", "crm", "--purpose", "service", *installation
    ).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "haechi.cli", "serve", *installation, "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stderr is not None
        for line in server.stderr:
            if "Application startup complete" in line:
                break
        else:
            pytest.fail("haechi serve exited before it was ready")
        base = f"http://127.0.0.1:{port}/api/v1"
        auth = {"Authorization": f"Bearer {secret}"}
        created = httpx.post(
            f"{base}/collections",
            json={
                "purpose": "service",
                "items": person,
                "consent": {"granted": True, "method": "web-form"},
            },
            headers=auth,
        )
        assert created.status_code == 201, created.text
        subject_id = created.json()["subject_id"]
        read = httpx.get(f"{base}/subjects/{subject_id}/items?purpose=service", headers=auth)
        assert read.json()["items"] == person
        refused = httpx.get(f"{base}/subjects/{subject_id}/items?purpose=marketing", headers=auth)
        assert (refused.status_code, refused.json()["code"]) == (403, "NO_GRANT")
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The server seals what it logged, at the latest on its way out.
    verified = haechi("audit", "verify", "--json", *installation)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["size"] >= 4


def test_staff_commands(installation: list[str]) -> None:
    """It adds, lists (JSON), grants, revokes, unlocks and resets, each change on the record."""
    added = haechi(
        "staff",
        "add",
        "kim",
        "--role",
        "handler",
        "--purpose",
        "service",
        "--by",
        "park",
        *installation,
    )
    assert added.returncode == 0, added.stderr
    assert "one-time password: " in added.stdout
    assert "totp enrolment: otpauth://" in added.stdout
    listed = json.loads(haechi("staff", "list", "--json", *installation).stdout)
    accounts = {account["username"]: account for account in listed}
    assert accounts["officer"]["role"] == "privacy_officer"
    assert accounts["kim"]["purposes"] == ["service"]
    assert accounts["kim"]["must_change_password"] is True
    password = added.stdout.split("one-time password: ")[1].split()[0]
    assert password not in json.dumps(listed)

    granted = haechi(
        "staff",
        "grant",
        "kim",
        "-p",
        "complaints",
        "--reason",
        "helpdesk",
        "--by",
        "park",
        *installation,
    )
    assert granted.returncode == 0, granted.stderr
    no_reason = haechi("staff", "revoke", "kim", "-p", "service", *installation)
    assert no_reason.returncode == 2
    revoked = haechi(
        "staff", "revoke", "kim", "-p", "service", "--reason", "left sales", *installation
    )
    assert revoked.returncode == 0, revoked.stderr
    role = haechi("staff", "grant", "kim", "--role", "auditor", "--reason", "audit", *installation)
    assert role.returncode == 0, role.stderr
    not_locked = haechi("staff", "unlock", "kim", *installation)
    assert (not_locked.returncode, "not locked" in not_locked.stderr) == (2, True)
    reset = haechi("staff", "reset-password", "kim", *installation)
    assert reset.returncode == 0, reset.stderr
    assert "one-time password: " in reset.stdout
    assert "totp enrolment" not in reset.stdout

    history = json.loads(haechi("staff", "history", "kim", "--json", *installation).stdout)
    assert [(h["change"], h["purpose"] or h["role"], h["changed_by"]) for h in history[:3]] == [
        ("create", "handler", "park"),
        ("grant", "service", "park"),
        ("grant", "complaints", "park"),
    ]
    assert [h["change"] for h in history[3:]] == ["revoke", "revoke", "role"]
    assert history[3]["reason"] == "left sales"
    unknown = haechi("staff", "grant", "nobody", "-p", "service", "--reason", "x", *installation)
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr


def start_server(installation: list[str]) -> tuple[subprocess.Popen[str], int]:
    """A `haechi serve` subprocess, returned once it accepts requests."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "haechi.cli", "serve", *installation, "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **CHEAP_ARGON2, "HAECHI__AUDIT__SEAL_INTERVAL_SECONDS": "0.2"},
    )
    assert server.stderr is not None
    for line in server.stderr:
        if "Application startup complete" in line:
            return server, port
    pytest.fail("haechi serve exited before it was ready")


def test_two_servers_write_one_verifiable_log(
    installation: list[str], person: dict[str, str]
) -> None:
    """It keeps one consistent log when two servers share the database and both seal."""
    secret = haechi(
        "tokens", "create", "--name", "crm", "--purpose", "service", *installation
    ).stdout.strip()
    servers = [start_server(installation), start_server(installation)]
    auth = {"Authorization": f"Bearer {secret}"}
    try:
        for index in range(20):
            _, port = servers[index % 2]
            base = f"http://127.0.0.1:{port}/api/v1"
            who = {**person, "email": f"two{index}@example.kr", "contact": f"010-5000-{index:04d}"}
            created = httpx.post(
                f"{base}/collections",
                json={
                    "purpose": "service",
                    "items": who,
                    "consent": {"granted": True, "method": "web-form"},
                },
                headers=auth,
            )
            assert created.status_code == 201, created.text
            subject = created.json()["subject_id"]
            read = httpx.get(f"{base}/subjects/{subject}/items?purpose=service", headers=auth)
            assert read.status_code == 200
    finally:
        for server, _ in servers:
            server.terminate()
        for server, _ in servers:
            server.wait(timeout=30)
    report = json.loads(haechi("audit", "verify", "--json", *installation).stdout)
    assert report["ok"] is True, report["problems"]
    # 20 collections + 20 reads + the officer's and the token's creation, each sealed once.
    assert report["size"] == 42
