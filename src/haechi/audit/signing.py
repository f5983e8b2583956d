"""Ed25519 signatures over tree heads, and the key file that holds the signing key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from haechi.crypto.keys import read_key_file, write_key_file
from haechi.errors import ConfigurationError

__all__ = ["HeadSigner", "HeadVerifier", "TreeHead", "create_signing_key_file"]


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head: the log's size and root at a time, chained to the previous head."""

    size: int
    root: bytes
    signed_at: datetime
    prev_hash: bytes
    key_id: str
    signature: bytes = b""
    pruned_below: int = 0
    sealed_through: int = 0

    def message(self) -> bytes:
        """The exact bytes that are signed (prune boundary and watermark included)."""
        stamp = self.signed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return (
            f"haechi-tree-head-v1\n{self.size}\n{self.root.hex()}\n{stamp}\n"
            f"{self.prev_hash.hex()}\n{self.key_id}\n{self.pruned_below}\n"
            f"{self.sealed_through}\n"
        ).encode("ascii")

    def digest(self) -> bytes:
        """SHA-256 of the signed message and signature: what the next head points to."""
        return hashlib.sha256(self.message() + self.signature).digest()

    def to_json(self) -> dict[str, object]:
        """The head as exported to a witness."""
        return {
            "size": self.size,
            "root": self.root.hex(),
            "signed_at": self.signed_at.astimezone(UTC).isoformat(),
            "prev_hash": self.prev_hash.hex(),
            "key_id": self.key_id,
            "signature": self.signature.hex(),
            "pruned_below": self.pruned_below,
            "sealed_through": self.sealed_through,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TreeHead:
        """Read a head written by :meth:`to_json`."""
        return cls(
            size=int(str(data["size"])),
            root=bytes.fromhex(str(data["root"])),
            signed_at=datetime.fromisoformat(str(data["signed_at"])),
            prev_hash=bytes.fromhex(str(data["prev_hash"])),
            key_id=str(data["key_id"]),
            signature=bytes.fromhex(str(data["signature"])),
            pruned_below=int(str(data.get("pruned_below", 0))),
            sealed_through=int(str(data.get("sealed_through", 0))),
        )


class HeadVerifier:
    """Checks tree-head signatures with a public key."""

    def __init__(self, public_key: Ed25519PublicKey):
        self._public = public_key
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]

    def verify(self, head: TreeHead) -> bool:
        """Whether ``head`` carries a valid signature by this key."""
        if head.key_id != self.key_id:
            return False
        try:
            self._public.verify(head.signature, head.message())
        except InvalidSignature:
            return False
        return True

    def public_pem(self) -> str:
        """The public key, PEM, for witnesses."""
        return self._public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")


class HeadSigner(HeadVerifier):
    """Signs tree heads with the installation's Ed25519 key."""

    def __init__(self, private_key: Ed25519PrivateKey):
        super().__init__(private_key.public_key())
        self._private = private_key

    @classmethod
    def generate(cls) -> HeadSigner:
        """A signer with a fresh key (tests, benchmarks)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_file(cls, path: Path) -> HeadSigner:
        """Load the signing key file, refusing one that others can read."""
        data = read_key_file(path, what="signing key")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except ValueError:
            raise ConfigurationError(f"signing key file {path} is damaged") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError(f"signing key file {path} is not an Ed25519 key")
        return cls(key)

    def sign(self, head: TreeHead) -> TreeHead:
        """``head`` with its signature."""
        unsigned = replace(head, key_id=self.key_id, signature=b"")
        return replace(unsigned, signature=self._private.sign(unsigned.message()))


def create_signing_key_file(path: Path) -> None:
    """Write a new Ed25519 key to ``path`` with mode 0600; never overwrite one."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_key_file(path, pem)
