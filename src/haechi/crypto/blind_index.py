"""Blind indexes: find a subject by email or phone without storing either.

The index is HMAC-SHA256 of the normalised value under a key derived from the master
key, prefixed by the value's kind so that equal strings of different kinds differ.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["BlindIndex"]


class BlindIndex:
    """Computes blind index digests with one secret key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        self._key = key

    def digest(self, kind: str, normalized: str) -> bytes:
        """The 32-byte digest of a normalised value of ``kind``."""
        message = f"{kind}\x00{normalized}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()
