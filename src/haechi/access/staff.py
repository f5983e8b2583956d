"""Staff accounts: one per person, with an Argon2id password hash."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from sqlalchemy import Connection, insert, select

from haechi.errors import Conflict

__all__ = ["Role", "create_staff", "password_hasher"]


class Role(StrEnum):
    """What a staff member may do."""

    PRIVACY_OFFICER = "privacy_officer"
    HANDLER = "handler"
    AUDITOR = "auditor"
    ADMIN = "admin"


def password_hasher() -> PasswordHasher:
    """Argon2id with the library's recommended parameters (RFC 9106 low-memory)."""
    return PasswordHasher()


def create_staff(
    connection: Connection, *, username: str, role: Role, now: datetime
) -> tuple[str, str]:
    """Create an account with a one-time password; return (id, password)."""
    from haechi.storage.tables import staff

    taken = connection.execute(select(staff.c.id).where(staff.c.username == username)).first()
    if taken is not None:
        raise Conflict(f"a staff account named {username!r} exists", field="username")
    password = secrets.token_urlsafe(15)
    staff_id = str(uuid.uuid4())
    connection.execute(
        insert(staff).values(
            id=staff_id,
            username=username,
            role=role.value,
            password_hash=password_hasher().hash(password),
            must_change_password=True,
            created_at=now,
        )
    )
    return staff_id, password
