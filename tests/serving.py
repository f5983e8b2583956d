"""A real ``haechi serve`` in a child process, and the ``haechi`` CLI, for tests that need them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child: this tree's sources, and no test database URL."""
    env = {**os.environ, "PYTHONPATH": SRC, **extra}
    env.pop("HAECHI_TEST_DATABASE_URL", None)
    return env


def haechi(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI to the end."""
    return subprocess.run(
        [sys.executable, "-m", "haechi.cli", *args],
        capture_output=True,
        text=True,
        env=child_env(**env),
        timeout=120,
        check=False,
    )


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Server:
    """A running ``haechi serve``: its process, base URL and output so far."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.output: list[str] = []
        self.reader: threading.Thread | None = None
        self.started = threading.Event()


def start_server(data_dir: Path, *args: str, **env: str) -> Server:
    """Start ``haechi serve`` and return once it accepts requests."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "haechi.cli",
            "serve",
            "--data",
            str(data_dir),
            "--port",
            str(port),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(**env),
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    # One reader for the whole life of the server: a full pipe would block it at its
    # next log line.
    server.reader = threading.Thread(target=_drain, args=(server,), daemon=True)
    server.reader.start()
    if not server.started.wait(60) or process.poll() is not None:
        process.kill()
        process.wait()
        raise AssertionError(f"haechi serve did not start: {''.join(server.output)}")
    return server


def _drain(server: Server) -> None:
    assert server.process.stdout is not None
    for line in server.process.stdout:
        server.output.append(line)
        if "Application startup complete" in line:
            server.started.set()
    server.started.set()  # the process ended: the caller stops waiting


def stop_server(server: Server) -> None:
    """Stop the server gracefully and keep the rest of its output."""
    server.process.terminate()
    server.process.wait(timeout=30)
    if server.reader is not None:
        server.reader.join(timeout=30)


@contextmanager
def serving(data_dir: Path, **env: str) -> Iterator[tuple[str, list[str]]]:
    """A running ``haechi serve``: its base URL, and its output once it has stopped."""
    server = start_server(data_dir, **env)
    try:
        yield server.url, server.output
    finally:
        stop_server(server)
