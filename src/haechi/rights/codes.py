"""One-time codes that verify a web request: 6 digits, hashed, short-lived, few tries.

A code is kept as an HMAC under a key derived for this use, bound to its request, so
the table never holds a code and a copy of it cannot be searched for one. Checking
compares in constant time. A code is issued for every web request, known person or
not (only a known person's is mailed): the work, the rows and the caps are the same
either way, so neither the answer nor its cost tells who is on file.

Caps (:class:`haechi.rights.models.RequestRules`): codes per address and per source
address within an hour, counted in the database so every server shares them. On
PostgreSQL the count and the insert run under transaction-scoped advisory locks on the
address and the source, so requests arriving at once cannot all read a count under the
cap and each add a code (every code brings its own tries).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, func, insert, select, update

from haechi.errors import Conflict, HaechiError, InvalidInput
from haechi.rights.models import RequestRules
from haechi.storage.rights_tables import rights_codes

__all__ = ["RateLimited", "check_code", "issue_code"]


class RateLimited(Conflict):
    """Too many codes for this address or from this source within the hour (HTTP 429)."""

    code = "RATE_LIMITED"


def _hash(key: bytes, request_id: str, code: str) -> bytes:
    return hmac.new(key, f"{request_id}|{code}".encode(), hashlib.sha256).digest()


# The two-key advisory lock space, one class per cap (the sealer uses the one-key space).
_ADDRESS_LOCK = 0x48430001
_SOURCE_LOCK = 0x48430002


def _lock_caps(connection: Connection, address_digest: bytes, source_ip: str | None) -> None:
    """Serialise code issuing per address, then per source (always in that order)."""
    if connection.dialect.name != "postgresql":
        return  # SQLite transactions here begin IMMEDIATE: writers are serialised already.
    keys = [(_ADDRESS_LOCK, address_digest)]
    if source_ip is not None:
        keys.append((_SOURCE_LOCK, hashlib.sha256(source_ip.encode()).digest()))
    for lock_class, digest in keys:
        connection.execute(
            select(
                func.pg_advisory_xact_lock(
                    lock_class, int.from_bytes(digest[:4], "big", signed=True)
                )
            )
        )


def _count(connection: Connection, condition: ColumnElement[bool], since: datetime) -> int:
    return int(
        connection.execute(
            select(func.count())
            .select_from(rights_codes)
            .where(condition, rights_codes.c.created_at >= since)
        ).scalar_one()
    )


def issue_code(
    connection: Connection,
    *,
    key: bytes,
    rules: RequestRules,
    request_id: str,
    address_digest: bytes,
    source_ip: str | None,
    now: datetime,
) -> tuple[str, datetime]:
    """A new code for ``request_id`` (earlier ones stop working); refused past the caps."""
    _lock_caps(connection, address_digest, source_ip)
    since = now - timedelta(hours=1)
    if _count(connection, rights_codes.c.address_digest == address_digest, since) >= (
        rules.codes_per_address_hour
    ) or (
        source_ip is not None
        and _count(connection, rights_codes.c.source_ip == source_ip, since)
        >= rules.codes_per_source_hour
    ):
        raise RateLimited("too many codes were asked for within the hour; try again later")
    connection.execute(
        update(rights_codes)
        .where(rights_codes.c.request_id == request_id, rights_codes.c.used_at.is_(None))
        .values(used_at=now)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    expires_at = now + rules.code_ttl
    connection.execute(
        insert(rights_codes).values(
            id=str(uuid.uuid4()),
            request_id=request_id,
            address_digest=address_digest,
            source_ip=source_ip,
            code_hash=_hash(key, request_id, code),
            created_at=now,
            expires_at=expires_at,
            attempts=0,
            used_at=None,
        )
    )
    return code, expires_at


def check_code(
    connection: Connection,
    *,
    key: bytes,
    rules: RequestRules,
    request_id: str,
    code: str,
    on_file: bool,
    now: datetime,
) -> HaechiError | None:
    """Accept ``code`` for ``request_id`` (None), or the error to raise once committed.

    Every try counts and a success uses the code up; the caller commits the count
    before raising, so rolling back a wrong try never gives it back.

    ``on_file`` is False when nobody on file was sent the code: the same comparison is
    made, and the answer is the same "wrong code" a mistyped code gets.
    """
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidInput("code is the 6 digits of the mail", field="code", code="CODE_FORMAT")
    row = connection.execute(
        select(rights_codes)
        .where(rights_codes.c.request_id == request_id, rights_codes.c.used_at.is_(None))
        .order_by(rights_codes.c.created_at.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if row is None or row.expires_at <= now:
        return Conflict(
            "the code has expired; ask for a new one", field="code", code="CODE_EXPIRED"
        )
    if row.attempts >= rules.code_tries:
        return Conflict(
            "too many wrong codes; ask for a new one", field="code", code="CODE_EXHAUSTED"
        )
    matches = hmac.compare_digest(bytes(row.code_hash), _hash(key, request_id, code))
    accepted = matches and on_file
    connection.execute(
        update(rights_codes)
        .where(rights_codes.c.id == row.id)
        .values(attempts=row.attempts + 1, used_at=now if accepted else None)
    )
    if not accepted:
        return InvalidInput("the code is not right", field="code", code="CODE_WRONG")
    return None
