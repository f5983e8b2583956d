"""Sealing item values: AES-256-GCM under a collection's data key.

The associated data names the collection, the item and the generation of the
collection's data key, so a ciphertext copied to another row (another person, or
another item of the same person) or an older ciphertext put back in place of the
current one fails to open.

Every AES-GCM value Haechi stores (sealed items, wrapped keys, sealed TOTP secrets)
is framed the same way, nonce ‖ ciphertext ‖ tag, by :func:`seal_frame` and
:func:`open_frame`.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from haechi.errors import IntegrityFailure

__all__ = ["Sealer", "TamperedCiphertext", "item_context", "open_frame", "seal_frame"]

_NONCE_BYTES = 12


class TamperedCiphertext(IntegrityFailure):
    """A sealed value failed authentication: altered, or moved from another row."""

    code = "CIPHERTEXT_TAMPERED"


def seal_frame(aead: AESGCM, plaintext: bytes, associated: bytes) -> bytes:
    """Encrypt under a fresh random nonce; returns nonce ‖ ciphertext ‖ tag."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, associated)


def open_frame(aead: AESGCM, sealed: bytes, associated: bytes) -> bytes:
    """Decrypt a frame made by :func:`seal_frame`; raises ``InvalidTag`` if it was altered."""
    return aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated)


def item_context(collection_id: str, item: str, *, version: int = 0) -> bytes:
    """Associated data binding a sealed value to its collection, item name and key version.

    Version 0 is a collection's first data key; each re-collection seals under a new
    key with the next version. Item names never hold ``|``, so the forms cannot collide.
    """
    base = f"haechi-item|{collection_id}|{item}"
    return (base if version == 0 else f"{base}|{version}").encode()


class Sealer:
    """Seals and opens values under one data key."""

    __slots__ = ("_aead",)

    def __init__(self, data_key: bytes):
        self._aead = AESGCM(data_key)

    def seal(self, plaintext: str, *, context: bytes) -> bytes:
        """Encrypt ``plaintext``; returns nonce ‖ ciphertext ‖ tag."""
        return seal_frame(self._aead, plaintext.encode("utf-8"), context)

    def open(self, sealed: bytes, *, context: bytes) -> str:
        """Decrypt a value sealed with the same key and context."""
        try:
            data = open_frame(self._aead, sealed, context)
        except InvalidTag:
            raise TamperedCiphertext("a sealed item failed authentication") from None
        return data.decode("utf-8")
