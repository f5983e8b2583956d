"""An incident's own data key, and the records sealed under it.

The key is wrapped by the key provider like a collection's; each record is compressed
JSON sealed with AES-256-GCM, bound by associated data to the incident and the
record's kind, so a record cannot be moved to another incident or read as another kind.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, insert, select

from haechi.crypto.envelope import TamperedCiphertext, open_frame, seal_frame
from haechi.crypto.keys import KeyProvider, new_data_key
from haechi.errors import NotFound
from haechi.storage.incidents_tables import incident_keys

__all__ = ["create_key", "incident_aead", "open_record", "seal_record"]


def create_key(connection: Connection, *, keys: KeyProvider, incident_id: str) -> AESGCM:
    """Make and store the incident's data key; return it ready to seal."""
    data_key = new_data_key()
    connection.execute(
        insert(incident_keys).values(
            incident_id=incident_id,
            key_id=keys.key_id,
            wrapped=keys.wrap(data_key, context=_key_context(incident_id)),
        )
    )
    return AESGCM(data_key)


def _context(incident_id: str, kind: str) -> bytes:
    return f"haechi-incident|{incident_id}|{kind}".encode()


def _key_context(incident_id: str) -> bytes:
    return f"incident|{incident_id}".encode()


def incident_aead(connection: Connection, keys: KeyProvider, incident_id: str) -> AESGCM:
    """The incident's data key, unwrapped; NotFound when there is no such incident."""
    wrapped = connection.execute(
        select(incident_keys.c.wrapped).where(incident_keys.c.incident_id == incident_id)
    ).scalar()
    if wrapped is None:
        raise NotFound("no such incident", field="incident_id", code="INCIDENT_NOT_FOUND")
    return AESGCM(keys.unwrap(bytes(wrapped), context=_key_context(incident_id)))


def seal_record(aead: AESGCM, incident_id: str, kind: str, value: Any) -> bytes:
    """``value`` as compressed JSON, sealed for this incident and kind."""
    return seal_frame(aead, zlib.compress(orjson.dumps(value)), _context(incident_id, kind))


def open_record(aead: AESGCM, incident_id: str, kind: str, sealed: bytes) -> Any:
    """A record made by :func:`seal_record`; TamperedCiphertext if it was altered or moved."""
    try:
        data = open_frame(aead, sealed, _context(incident_id, kind))
    except InvalidTag:
        raise TamperedCiphertext("a sealed incident record failed authentication") from None
    return orjson.loads(zlib.decompress(data))
