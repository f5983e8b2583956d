"""API tokens: bearer secrets for services, each limited to named purposes.

Only a SHA-256 of the secret is stored (it is 256 random bits, so a slow hash adds
nothing); the secret itself is shown once, when the token is made.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.engine import Dialect

from haechi.access.decision import Actor
from haechi.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import api_tokens

__all__ = [
    "TOKEN_PREFIX",
    "TokenInfo",
    "TokenReader",
    "authenticate",
    "create_token",
    "list_tokens",
    "revoke_token",
    "secret_digest",
]

TOKEN_PREFIX = "hct_"  # noqa: S105 - a prefix, not a secret
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: str
    name: str
    purposes: list[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


def secret_digest(secret: str) -> str:
    """The stored form of a bearer secret (API token or staff session): its SHA-256, hex.

    The secrets are 256 random bits, so a fast hash loses nothing to a slow one.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    connection: Connection,
    *,
    name: str,
    purposes: list[str],
    declared_purposes: set[str],
    created_by: str,
    now: datetime,
) -> tuple[TokenInfo, str]:
    """Make a token for ``purposes``; return it and its secret (shown once)."""
    if not _NAME.match(name):
        raise InvalidInput("a token name is 1-100 letters, digits, '.', '_' or '-'", field="name")
    if not purposes:
        raise InvalidInput("a token needs at least one purpose", field="purposes")
    unknown = sorted(set(purposes) - declared_purposes)
    if unknown:
        raise InvalidInput(
            f"purposes not declared in the policy: {', '.join(unknown)}", field="purposes"
        )
    taken = connection.execute(select(api_tokens.c.id).where(api_tokens.c.name == name)).first()
    if taken is not None:
        raise Conflict("a token of that name already exists", field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    info = TokenInfo(
        id=str(uuid.uuid4()),
        name=name,
        purposes=sorted(set(purposes)),
        created_by=created_by,
        created_at=now,
        revoked_at=None,
    )
    connection.execute(
        insert(api_tokens).values(
            id=info.id,
            name=name,
            token_hash=secret_digest(secret),
            purposes=json.dumps(info.purposes),
            created_by=created_by,
            created_at=now,
        )
    )
    return info, secret


_ACTIVE = select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.purposes).where(
    api_tokens.c.token_hash == bindparam("digest"), api_tokens.c.revoked_at.is_(None)
)


def _actor(row: Any) -> Actor:
    if row is None:
        raise PermissionDenied("unknown or revoked API token", code="INVALID_TOKEN")
    token_id, name, purposes = row
    return Actor(
        name=f"token:{name}", kind="token", purposes=frozenset(json.loads(purposes)), id=token_id
    )


def authenticate(connection: Connection, secret: str) -> Actor:
    """The actor a bearer secret stands for; refuse unknown or revoked tokens."""
    return _actor(connection.execute(_ACTIVE, {"digest": secret_digest(secret)}).first())


class TokenReader:
    """:func:`authenticate` for every request: one indexed read, prepared once per dialect.

    Nothing is cached between calls, so a token revoked by any server is refused on
    its very next call.
    """

    def __init__(self, dialect: Dialect):
        self._active = PreparedStatement(_ACTIVE, dialect)

    def authenticate(self, cursor: Any, secret: str) -> Actor:
        """The actor behind ``secret``, read on a DBAPI cursor."""
        rows = self._active.fetch(cursor, {"digest": secret_digest(secret)})
        return _actor(rows[0] if rows else None)


def list_tokens(connection: Connection) -> list[TokenInfo]:
    """Every token, newest first, without secrets."""
    rows = connection.execute(select(api_tokens).order_by(api_tokens.c.created_at.desc()))
    return [
        TokenInfo(
            id=row.id,
            name=row.name,
            purposes=json.loads(row.purposes),
            created_by=row.created_by,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )
        for row in rows
    ]


def revoke_token(connection: Connection, *, name: str, now: datetime) -> None:
    """Revoke the token called ``name``; its next call is refused."""
    result = connection.execute(
        update(api_tokens)
        .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount == 0:
        raise NotFound("no active token of that name", field="name")
