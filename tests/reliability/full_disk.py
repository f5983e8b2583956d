"""A small disk of a test's own, filled to the last byte under a real ``haechi serve``.

The tmpfs needs root to mount; under CI a failed mount fails the test (CI must run the
full-disk tests), elsewhere it skips. :class:`DiskRun` sends the collections and reads
of one such test and keeps what the server answered and acknowledged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import PERSON
from tests.reliability.live import collection_body
from tests.serving import Server, start_server, stop_server

FULL_STREAK = 5  # refusals in a row that say the disk is full
FULL = (507, "STORAGE_FULL")
#: The only answers a server on a full disk may give: stored, read, or refused for space.
CLEAN_ANSWERS = frozenset({(201, None), (200, None), FULL})


@contextmanager
def small_tmpfs(mount_point: Path, size: str, *, owner: str | None = None) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``mount_point`` (owned by ``owner``), unmount afterwards."""
    mount_point.mkdir()
    options = f"size={size},mode=0700"
    if owner is not None:
        options += f",uid={owner},gid={owner}"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs here: {mounted.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run this test where mounting works)")
        pytest.skip(reason)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still take on the file system of ``path``."""
    status = os.statvfs(path)
    return status.f_bavail * status.f_frsize


def take_every_byte(path: Path) -> None:
    """Append to ``path`` until the file system refuses even one byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


class Ballast:
    """Files that take a small disk's space, all but ``margin`` bytes, and give it back."""

    def __init__(self, disk: Path, margin: int) -> None:
        self.disk = disk
        self.files = [disk / "ballast", disk / "ballast-last"]
        self.files[0].write_bytes(b"\0" * (free_bytes(disk) - margin))

    def take_the_rest(self) -> None:
        """Take every byte still free."""
        take_every_byte(self.files[1])
        assert free_bytes(self.disk) == 0

    def remove(self) -> None:
        """Give the whole space back."""
        for file in self.files:
            file.unlink()


def answer(response: httpx.Response) -> tuple[int, str | None]:
    """The status and, for a refusal, the error code of ``response``."""
    code = response.json().get("code") if response.status_code >= 400 else None
    return response.status_code, code


@dataclass
class DiskRun:
    """The requests of one full-disk test: every answer counted, every 201 remembered."""

    client: httpx.Client
    server: Server
    token: str
    answers: Counter[tuple[int, str | None]] = field(default_factory=Counter)
    acknowledged: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # subject → purpose, email

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def collect(self, email: str, purpose: str = "service") -> httpx.Response:
        """Collect one person (``email``) for ``purpose``; remember them if acknowledged."""
        response = self.client.post(
            f"{self.server.url}/api/v1/collections",
            json=collection_body({**PERSON, "email": email}, purpose),
            headers=self._headers,
        )
        self.answers[answer(response)] += 1
        if response.status_code == 201:
            self.acknowledged[response.json()["subject_id"]] = (purpose, email)
        return response

    def read_collection(self, collection_id: str) -> httpx.Response:
        """Read one collection (which writes its audit event)."""
        response = self.client.get(
            f"{self.server.url}/api/v1/collections/{collection_id}", headers=self._headers
        )
        self.answers[answer(response)] += 1
        return response

    def fill(self, prefix: str) -> None:
        """Collect new people until :data:`FULL_STREAK` answers in a row are 507."""
        streak = 0
        for n in range(2_000):
            response = self.collect(f"{prefix}{n}@example.kr")
            streak = streak + 1 if response.status_code == 507 else 0
            if streak == FULL_STREAK:
                return
        raise AssertionError(f"the disk never filled: {self.answers}")

    def kill_sealer(self) -> None:
        """``SIGKILL`` the server's sealer child (the server is to start it again)."""
        listed = subprocess.run(
            ["ps", "--ppid", str(self.server.process.pid), "-o", "pid=,args="],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for line in listed.splitlines():
            if "audit seal" in line:
                os.kill(int(line.split()[0]), signal.SIGKILL)

    def exhaust(self, ballast: Ballast, *, prefix: str, collection_id: str) -> None:
        """Fill the disk, take its last byte, kill the sealer; then collect and read once.

        A collection for a purpose of its own (a new epoch key, new rows in full pages)
        is refused; a read writes its event, which may fit in a page already there.
        """
        self.fill(prefix)
        ballast.take_the_rest()
        # A sealer that dies while the disk is full is started again by the server.
        self.kill_sealer()
        other = self.collect("other@example.kr", "marketing")
        assert answer(other) == FULL, other.text
        read = self.read_collection(collection_id)
        assert answer(read) in {(200, None), FULL}, read.text

    def recover(self) -> None:
        """Once space is back: a new collection is stored and every 201 reads back."""
        after = self.collect("after@example.kr", "marketing")
        assert after.status_code == 201, after.text
        self.read_back()

    def read_back(self) -> None:
        """Every acknowledged person's email reads back as it was sent."""
        for subject_id, (purpose, email) in self.acknowledged.items():
            read = self.client.get(
                f"{self.server.url}/api/v1/subjects/{subject_id}/items",
                params={"purpose": purpose, "item": ["email"]},
                headers=self._headers,
            )
            assert read.status_code == 200, read.text
            assert read.json()["items"]["email"] == email


@contextmanager
def serving(data_dir: Path, token: str) -> Iterator[DiskRun]:
    """A real ``haechi serve`` of ``data_dir`` and a run of requests with ``token``.

    The run outlives the block: its answers, and the server's whole output once stopped.
    """
    server = start_server(data_dir)
    try:
        with httpx.Client(timeout=60) as client:
            yield DiskRun(client, server, token)
    finally:
        stop_server(server)


def wait_sealed(unsealed: Callable[[], int]) -> None:
    """Wait (30 s at most) until ``unsealed()`` events are none."""
    deadline = time.monotonic() + 30
    while unsealed() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert unsealed() == 0, "the log was not sealed once space returned"


def assert_clean(run: DiskRun) -> None:
    """Only clean answers, and no traceback or 500 in the server's output."""
    assert set(run.answers) <= CLEAN_ANSWERS, run.answers
    output = "".join(run.server.output)
    assert "Traceback" not in output
    assert "500 Internal Server Error" not in output


def assert_refused_in_one_line(cli: subprocess.CompletedProcess[str]) -> None:
    """The CLI on a full disk: exit 2 and one line, no traceback."""
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert cli.stderr.startswith("error: no space left"), cli.stderr
    assert "Traceback" not in cli.stderr
    assert len(cli.stderr.strip().splitlines()) <= 2
