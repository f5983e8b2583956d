"""Tables of staff accounts, their grants and history, sessions and API tokens.

Part of :data:`haechi.storage.tables.metadata` (and re-exported there). Secrets are
stored as digests or sealed, never in the clear; the grant history is append-only.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from haechi.storage.tables import ID, metadata
from haechi.storage.types import UtcDateTime

__all__ = [
    "api_tokens",
    "staff",
    "staff_grant_history",
    "staff_grants",
    "staff_sessions",
]

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("purposes", Text, nullable=False, comment="JSON list of purpose ids"),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

staff = Table(
    "staff",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("role", String(30), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("must_change_password", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_at", UtcDateTime, nullable=True),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("totp_sealed", LargeBinary, nullable=True, comment="AES-256-GCM sealed TOTP secret"),
    Column("totp_last_step", Integer, nullable=True, comment="Last TOTP time step accepted"),
    Column("last_login_at", UtcDateTime, nullable=True),
)

staff_grants = Table(
    "staff_grants",
    metadata,
    Column("staff_id", String(ID), ForeignKey("staff.id"), primary_key=True),
    Column("purpose", String(63), primary_key=True),
    Column("granted_by", String(100), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
)

# Append-only (database triggers refuse UPDATE and DELETE) and kept at least three
# years (Standards Art. 5): no code path deletes from it. No foreign key, so the record
# outlives the account it describes.
staff_grant_history = Table(
    "staff_grant_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("staff_id", String(ID), nullable=False, index=True),
    Column("username", String(100), nullable=False),
    Column("change", String(20), nullable=False, comment="create, grant, revoke, role, disable"),
    Column("purpose", String(63), nullable=True),
    Column("role", String(30), nullable=True, comment="The role after the change"),
    Column("changed_by", String(100), nullable=False),
    Column("reason", String(500), nullable=False),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("staff_id", String(ID), ForeignKey("staff.id"), nullable=False, index=True),
    Column("source_ip", String(45), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
)
