"""The key job runs once across servers: a PostgreSQL advisory lock, or a SQLite claim row.

The claim row carries a lease, and a holder that died on this host gives it up at once.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from haechi.storage.key_tables import key_job_claim

__all__ = ["claimed"]

_LOCK_KEY = 0x4B455953  # "KEYS": the advisory lock of the key job on PostgreSQL
_LEASE = timedelta(minutes=10)


@contextmanager
def claimed(database: SqlEngine) -> Iterator[bool]:
    """Whether this run holds the key job, for as long as the block runs."""
    if database.dialect.name == "postgresql":
        with database.connect() as connection:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": _LOCK_KEY}
            ).scalar()
            connection.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                    connection.commit()
        return
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    got = _claim_row(database, holder)
    try:
        yield got
    finally:
        if got:
            with database.begin() as connection:
                connection.execute(
                    delete(key_job_claim).where(
                        key_job_claim.c.name == "keys", key_job_claim.c.holder == holder
                    )
                )


def _claim_row(database: SqlEngine, holder: str) -> bool:
    """Take the SQLite claim row: free, its lease over, or its holder dead on this host."""
    wall = datetime.now(UTC)
    with database.begin() as connection:
        row = connection.execute(
            select(key_job_claim).where(key_job_claim.c.name == "keys")
        ).first()
        if row is not None and row.expires_at > wall and _alive(row.holder):
            return False
        connection.execute(delete(key_job_claim).where(key_job_claim.c.name == "keys"))
        with suppress(IntegrityError):
            connection.execute(
                insert(key_job_claim).values(name="keys", holder=holder, expires_at=wall + _LEASE)
            )
    return True


def _alive(holder: str) -> bool:
    """Whether a claim's holder may still be running (another host: assume so)."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
