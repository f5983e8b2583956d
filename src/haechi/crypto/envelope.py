"""Sealing item values: AES-256-GCM under a collection's data key.

The associated data names the collection and the item, so a ciphertext copied to
another row (another person, or another item of the same person) fails to open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from haechi.errors import IntegrityFailure

__all__ = ["Sealer", "TamperedCiphertext", "item_context"]

_NONCE_BYTES = 12


class TamperedCiphertext(IntegrityFailure):
    """A sealed value failed authentication: altered, or moved from another row."""

    code = "CIPHERTEXT_TAMPERED"


def item_context(collection_id: str, item: str) -> bytes:
    """Associated data binding a sealed value to its collection and item name."""
    return f"haechi-item|{collection_id}|{item}".encode()


class Sealer:
    """Seals and opens values under one data key."""

    __slots__ = ("_aead",)

    def __init__(self, data_key: bytes):
        self._aead = AESGCM(data_key)

    def seal(self, plaintext: str, *, context: bytes) -> bytes:
        """Encrypt ``plaintext``; returns nonce ‖ ciphertext ‖ tag."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), context)

    def open(self, sealed: bytes, *, context: bytes) -> str:
        """Decrypt a value sealed with the same key and context."""
        try:
            data = self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context)
        except InvalidTag:
            raise TamperedCiphertext("a sealed item failed authentication") from None
        return data.decode("utf-8")
