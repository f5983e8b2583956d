"""``haechi serve`` for real: uvicorn, the true client address, and one-line start-up errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from haechi import Engine, Settings
from haechi.engine import SYSTEM
from tests.serving import haechi, serving


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised data directory with a token and a second privacy officer."""
    path = tmp_path_factory.mktemp("serve") / "data"
    assert haechi("init", str(path)).returncode == 0
    return path


def open_engine(data_dir: Path) -> Engine:
    return Engine.open(Settings.load(data_dir))


def test_without_trusted_proxies_x_forwarded_for_is_ignored(data_dir: Path) -> None:
    """It records the socket peer, not a header the caller wrote (uvicorn rewrites nothing)."""
    engine = open_engine(data_dir)
    try:
        _, secret = engine.create_token(name="ignored", purposes=["service"])
        with serving(data_dir) as (url, output):
            response = httpx.post(
                f"{url}/api/v1/subjects/lookup",
                json={"kind": "email", "value": "nobody@example.kr"},
                headers={"Authorization": f"Bearer {secret}", "X-Forwarded-For": "8.8.8.8"},
            )
            assert response.status_code == 200, response.text
        event = engine.events(limit=1)[0]
        assert (event.action, event.source_ip) == ("lookup", "127.0.0.1")
        assert "8.8.8.8" not in "".join(output)
    finally:
        engine.close()


def test_behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client(
    data_dir: Path,
) -> None:
    """It takes 203.0.113.9 from ``127.0.0.1, 203.0.113.9``: the officer needs TOTP, logged so."""
    engine = open_engine(data_dir)
    try:
        credentials = engine.add_staff(username="park", role="privacy_officer", actor=SYSTEM)
        with serving(data_dir, HAECHI__SERVER__TRUSTED_PROXIES='["127.0.0.1/32"]') as (url, _):
            response = httpx.post(
                f"{url}/api/v1/auth/login",
                json={"username": "park", "password": credentials.password},
                headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.9"},
            )
        assert (response.status_code, response.json()["code"]) == (401, "TOTP_REQUIRED")
        event = engine.events(limit=1)[0]
        assert (event.action, event.source_ip) == ("login", "203.0.113.9")
    finally:
        engine.close()


def _exchange(connection: socket.socket, request: bytes) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on an open connection; its status and body."""
    connection.sendall(request)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection"
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":", 1)[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
    )
    while len(rest) < length:
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection"
        rest += chunk
    return int(head.split(b" ", 2)[1]), rest


def _post(path: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", "Content-Type: application/json"]
    lines += [*headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_the_real_server_refuses_big_bodies_and_keeps_the_connection_after_a_surrogate(
    data_dir: Path,
) -> None:
    """It answers 413 to a declared 50 MB body unsent, and 422 to a surrogate, then serves on."""
    engine = open_engine(data_dir)
    try:
        _, secret = engine.create_token(name="raw", purposes=["service"])
    finally:
        engine.close()
    surrogate = (
        b'{"purpose": "service", "consent": {"granted": true, "method": "web-form"}, '
        b'"items": {"name": "\\ud800"}}'
    )
    lookup = b'{"kind": "email", "value": "nobody@example.kr"}'
    with serving(data_dir) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            status, answer = _exchange(
                connection,
                _post("/api/v1/collections", surrogate, f"Authorization: Bearer {secret}"),
            )
            assert (status, json.loads(answer)["field"]) == (422, "items.name")
            status, _ = _exchange(
                connection,
                _post("/api/v1/subjects/lookup", lookup, f"Authorization: Bearer {secret}"),
            )
            assert status == 200
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            declared = _post("/api/v1/collections", b"").replace(
                b"Content-Length: 0", f"Content-Length: {50 * 1024 * 1024}".encode()
            )
            status, answer = _exchange(connection, declared)
            assert (status, json.loads(answer)["code"]) == (413, "BODY_TOO_LARGE")


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_an_impossible_port_is_one_line_and_exit_2(tmp_path: Path, port: str) -> None:
    """It refuses a port outside 1–65535 with exit code 2 and one line, no traceback."""
    result = haechi("serve", "--data", str(tmp_path / "data"), "--port", port)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()


def test_a_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """It says the address is in use, in one line with exit code 2."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = haechi("serve", "--data", str(tmp_path / "data"), "--port", str(port))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("port = 99999", "server.port"),
        ("trust_forwarded_for = true", "server.trusted_proxies"),
        ('trusted_proxies = ["not-a-network"]', "server.trusted_proxies"),
        ("threads = 50", "server.threads"),
    ],
)
def test_bad_server_settings_are_one_line_and_exit_2(
    tmp_path: Path, setting: str, named: str
) -> None:
    """It names the bad (or replaced) setting in one line with exit code 2."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "haechi.toml").write_text(f"[server]\n{setting}\n", encoding="utf-8")
    result = haechi("serve", "--data", str(data))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_a_worker_count_out_of_range_is_one_line_and_exit_2(data_dir: Path) -> None:
    """It refuses ``--workers 0`` (and 65) with one line naming the option."""
    for count in ("0", "65"):
        result = haechi("serve", "--data", str(data_dir), "--port", "0", "--workers", count)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.endswith(f"--workers must be between 1 and 64, not {count}")
