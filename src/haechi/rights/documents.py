"""A request's own data key and the documents sealed under it.

Each request gets a data key, wrapped by the key provider, like a collection's: the
address it came from, a representative's particulars, the received letter or fax
and a power of attorney are sealed under it, bound by associated data to the request,
the document and its kind. Shredding the key (:func:`shred`) at the end of the
request's retention makes every copy of them unreadable.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, delete, insert, select

from haechi.crypto.envelope import TamperedCiphertext, open_frame, seal_frame
from haechi.crypto.keys import KeyProvider, new_data_key
from haechi.errors import NotFound
from haechi.storage.rights_tables import rights_documents, rights_request_keys

__all__ = [
    "CONTACT",
    "CORRECTIONS",
    "NOTE",
    "REPRESENTATIVE",
    "add",
    "create_key",
    "key_context",
    "listing",
    "read",
    "shred",
]

# Kinds of documents the engine itself writes (staff uploads name theirs).
CONTACT = "contact"  # the verified address to answer at
CORRECTIONS = "corrections"  # the new values asked for (JSON)
REPRESENTATIVE = "representative"  # who acts for the person (JSON)
NOTE = "note"  # staff's note on a refusal or postponement


def _context(request_id: str, document_id: str, kind: str) -> bytes:
    return f"haechi-rights|{request_id}|{document_id}|{kind}".encode()


def key_context(request_id: str) -> bytes:
    """Associated data of a request's wrapped key."""
    return f"rights|{request_id}".encode()


def create_key(connection: Connection, *, keys: KeyProvider, request_id: str) -> None:
    """Make and store the request's data key."""
    connection.execute(
        insert(rights_request_keys).values(
            request_id=request_id,
            key_id=keys.key_id,
            wrapped=keys.wrap(new_data_key(), context=key_context(request_id)),
        )
    )


def _aead(connection: Connection, keys: KeyProvider, request_id: str) -> AESGCM:
    wrapped = connection.execute(
        select(rights_request_keys.c.wrapped).where(rights_request_keys.c.request_id == request_id)
    ).scalar()
    if wrapped is None:
        raise NotFound("the request's documents are destroyed", code="REQUEST_PURGED")
    return AESGCM(keys.unwrap(bytes(wrapped), context=key_context(request_id)))


def add(
    connection: Connection,
    *,
    keys: KeyProvider,
    request_id: str,
    kind: str,
    content: bytes,
    media_type: str,
    now: datetime,
) -> str:
    """Seal ``content`` under the request's key; return the document's id."""
    document_id = str(uuid.uuid4())
    sealed = seal_frame(
        _aead(connection, keys, request_id), content, _context(request_id, document_id, kind)
    )
    connection.execute(
        insert(rights_documents).values(
            id=document_id,
            request_id=request_id,
            kind=kind,
            media_type=media_type,
            size=len(content),
            sealed=sealed,
            created_at=now,
        )
    )
    return document_id


def read(connection: Connection, *, keys: KeyProvider, request_id: str, kind: str) -> bytes | None:
    """The newest document of ``kind`` of a request, opened; None if there is none."""
    row = connection.execute(
        select(rights_documents.c.id, rights_documents.c.sealed)
        .where(rights_documents.c.request_id == request_id, rights_documents.c.kind == kind)
        .order_by(rights_documents.c.created_at.desc(), rights_documents.c.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    try:
        return open_frame(
            _aead(connection, keys, request_id),
            bytes(row.sealed),
            _context(request_id, row.id, kind),
        )
    except InvalidTag:
        raise TamperedCiphertext("a sealed request document failed authentication") from None


def listing(connection: Connection, request_id: str) -> list[dict[str, object]]:
    """The request's documents: ids, kinds, types, sizes and dates (never contents)."""
    return [
        {
            "id": row.id,
            "kind": row.kind,
            "media_type": row.media_type,
            "size": row.size,
            "created_at": row.created_at.isoformat(),
        }
        for row in connection.execute(
            select(rights_documents)
            .where(rights_documents.c.request_id == request_id)
            .order_by(rights_documents.c.created_at, rights_documents.c.id)
        )
    ]


def shred(connection: Connection, request_id: str) -> None:
    """Delete the request's key first, then its sealed documents."""
    connection.execute(
        delete(rights_request_keys).where(rights_request_keys.c.request_id == request_id)
    )
    connection.execute(delete(rights_documents).where(rights_documents.c.request_id == request_id))
