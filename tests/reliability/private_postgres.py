"""A PostgreSQL cluster of the test's own (initdb, pg_ctl) that the test may stop and restart.

The machine's shared server is never touched: this cluster lives in a temporary
directory, on a free port, run by the ``postgres`` account when the test runs as root
(initdb refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.serving import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is needed for the PostgreSQL restart test")
        pytest.skip(f"{name} not found under /usr/lib/postgresql")
    return found[-1]


class Cluster:
    """One private cluster: its URL, and stop/start."""

    def __init__(self, directory: Path, port: int, *, file_size_limit: int | None = None) -> None:
        self.directory = directory
        self.port = port
        # RLIMIT_FSIZE of the server's processes: PostgreSQL ignores SIGXFSZ, so a write
        # past it fails with EFBIG, as a file system quota fails with EDQUOT.
        self.file_size_limit = file_size_limit
        self.url = f"postgresql://postgres@127.0.0.1:{port}/haechi"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def pg_ctl(self, action: str, *extra: str) -> None:
        """``pg_ctl <action>`` on this cluster, waiting for it to finish."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        limit = self.file_size_limit
        self._run(
            *(["prlimit", f"--fsize={limit}"] if limit is not None and action == "start" else []),
            _bin("pg_ctl"),
            action,
            "-D",
            str(self.directory / "data"),
            "-l",
            str(self.directory / "server.log"),
            "-o",
            options,
            "-w",
            *extra,
        )

    def stop(self) -> None:
        """Stop at once (connections are cut, as when the server crashes or restarts)."""
        self.pg_ctl("stop", "-m", "immediate")

    def start(self) -> None:
        """Start again; returns once it accepts connections."""
        self.pg_ctl("start")


@contextmanager
def private_postgres(*initdb_args: str, file_size_limit: int | None = None) -> Iterator[Cluster]:
    """A running private cluster with an empty database ``haechi``, removed afterwards.

    ``initdb_args`` go to ``initdb``; ``file_size_limit`` bounds every file the server
    writes (see :class:`Cluster`).
    """
    # Not under pytest's temporary root: the postgres account could not reach it.
    directory = Path(tempfile.mkdtemp(prefix="haechi-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    cluster = Cluster(directory, free_port(), file_size_limit=file_size_limit)
    cluster._run(
        _bin("initdb"),
        "-D",
        str(directory / "data"),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        # Its log is read by tests: in English whatever the machine's locale.
        "--lc-messages=C",
        *initdb_args,
    )
    cluster.start()
    try:
        cluster._run(
            _bin("createdb"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "haechi"
        )
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(directory, ignore_errors=True)
