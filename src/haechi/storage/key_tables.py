"""The epoch keys the key provider holds, as the database knows them.

A row names a key that lives outside the database (a key directory file, a PKCS#11
object): never the key itself. ``data_keys.key_id`` and ``separated_keys.key_id`` name
the epoch key that wrapped each data key (or, for data keys from before epochs, the
master key).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, text

from haechi.storage.tables import metadata
from haechi.storage.types import UtcDateTime

__all__ = ["key_epochs", "key_job_claim"]

key_epochs = Table(
    "key_epochs",
    metadata,
    Column("id", String(50), primary_key=True, comment="The key's name in the key provider"),
    Column("store", String(10), nullable=False, comment="main or separated"),
    Column("period_start", UtcDateTime, nullable=False, comment="Deadlines from (inclusive)"),
    Column("period_end", UtcDateTime, nullable=False, comment="Deadlines until (exclusive)"),
    Column("created_at", UtcDateTime, nullable=False),
    Column(
        "retired_at",
        UtcDateTime,
        nullable=True,
        comment="Rotated: wraps no new key; its data keys move to the period's current key",
    ),
    Column(
        "shred_at",
        UtcDateTime,
        nullable=True,
        comment="First shredding of a data key it wrapped: destroyed by this + backup window",
    ),
    Column("destroyed_at", UtcDateTime, nullable=True),
    Column(
        "erased_at",
        UtcDateTime,
        nullable=True,
        comment="When the key provider was seen to hold the destroyed key no more",
    ),
    Index(
        "ux_key_epochs_current",
        "store",
        "period_start",
        unique=True,
        sqlite_where=text("retired_at IS NULL"),
        postgresql_where=text("retired_at IS NULL"),
    ),
)

# SQLite has no advisory locks: the key job claims this row for a lease instead (on
# PostgreSQL it takes an advisory lock), so one server runs it at a time.
key_job_claim = Table(
    "key_job_claim",
    metadata,
    Column("name", String(30), primary_key=True),
    Column("holder", String(200), nullable=False, comment="host:pid:token of the runner"),
    Column("expires_at", UtcDateTime, nullable=False, comment="Lease end, by the wall clock"),
)
