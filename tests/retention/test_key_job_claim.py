"""The key job runs once across servers: an advisory lock, or a claim row on SQLite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from haechi import Engine
from haechi.engine import SYSTEM
from haechi.storage.key_tables import key_job_claim
from tests.conftest import Database


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_a_second_server_skips_while_one_runs(engine: Engine, database: Database) -> None:
    """It skips a run while another server holds the job, and runs once it is free."""
    if database.backend == "postgresql":
        with database.engine.connect() as other:
            other.execute(text("SELECT pg_advisory_lock(:key)"), {"key": 0x4B455953})
            assert engine.run_keys(actor=SYSTEM).skipped
            other.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": 0x4B455953})
            other.commit()
    else:
        with database.engine.begin() as connection:
            connection.execute(
                insert(key_job_claim).values(
                    name="keys",
                    holder=f"{socket.gethostname()}:{os.getpid()}:other",
                    expires_at=datetime.now(UTC) + timedelta(minutes=5),
                )
            )
        assert engine.run_keys(actor=SYSTEM).skipped
        with database.engine.begin() as connection:
            connection.execute(key_job_claim.delete())
    assert not engine.run_keys(actor=SYSTEM).skipped


def test_a_claim_of_a_dead_process_is_taken_over(engine: Engine, database: Database) -> None:
    """It takes over a SQLite claim whose holder died (kill -9 leaves no release)."""
    if database.backend == "postgresql":
        return  # a dead session's advisory lock is released by PostgreSQL itself
    with database.engine.begin() as connection:
        connection.execute(
            insert(key_job_claim).values(
                name="keys",
                holder=f"{socket.gethostname()}:{_dead_pid()}:gone",
                expires_at=datetime.now(UTC) + timedelta(minutes=5),
            )
        )
    assert not engine.run_keys(actor=SYSTEM).skipped
