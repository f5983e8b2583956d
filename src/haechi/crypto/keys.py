"""Key providers: who holds the master key (KEK) that wraps every data key.

A data key belongs to one collection. It is wrapped (AES-256-GCM, the collection id as
associated data) by the master key and stored beside the collection; shredding the
wrapped key makes every copy of the collection's ciphertexts, backups included,
unreadable. The local provider keeps the master key in a 0600 file; the interface
leaves room for Vault Transit or a cloud KMS, which wrap and unwrap remotely.

:func:`read_key_file` and :func:`write_key_file` are the one way Haechi reads and
writes a secret key file (the master key here, the tree-head signing key in
:mod:`haechi.audit.signing`), with the same 0600 rule for both.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from abc import ABC, abstractmethod
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from haechi.crypto.envelope import open_frame, seal_frame
from haechi.errors import ConfigurationError, IntegrityFailure

__all__ = [
    "DATA_KEY_BYTES",
    "KeyProvider",
    "LocalKeyProvider",
    "UnwrapError",
    "create_master_key_file",
    "new_data_key",
    "read_key_file",
    "write_key_file",
]

DATA_KEY_BYTES = 32
_MAGIC = "haechi-master-key-v1"


class UnwrapError(IntegrityFailure):
    """A wrapped key could not be unwrapped (wrong master key or tampered bytes)."""

    code = "KEY_UNWRAP_FAILED"


def new_data_key() -> bytes:
    """A fresh random AES-256 data key."""
    return secrets.token_bytes(DATA_KEY_BYTES)


class KeyProvider(ABC):
    """Wraps and unwraps data keys with a master key it never hands out."""

    key_id: str

    @abstractmethod
    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        """Encrypt ``data_key`` bound to ``context`` (the owner's id)."""

    @abstractmethod
    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Decrypt a key made by :meth:`wrap` with the same ``context``."""

    @abstractmethod
    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. the blind index), stable across restarts."""


class LocalKeyProvider(KeyProvider):
    """The master key lives in a local file readable by its owner only."""

    def __init__(self, master_key: bytes, *, key_id: str = "local-1"):
        if len(master_key) != DATA_KEY_BYTES:
            raise ConfigurationError("the master key must be 32 bytes")
        self._aead = AESGCM(master_key)
        self._master = master_key
        self.key_id = key_id

    @classmethod
    def from_file(cls, path: Path) -> LocalKeyProvider:
        """Load the master key file, refusing one that others can read."""
        try:
            text = read_key_file(path, what="master key").decode("ascii")
        except UnicodeDecodeError:
            raise ConfigurationError(f"master key file {path} is damaged") from None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) != 3 or lines[0] != _MAGIC:
            raise ConfigurationError(f"master key file {path} is not a Haechi key file")
        try:
            key = base64.b64decode(lines[2], validate=True)
        except ValueError:
            raise ConfigurationError(f"master key file {path} is damaged") from None
        return cls(key, key_id=lines[1])

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        """Encrypt ``data_key`` under the master key; nonce ‖ ciphertext ‖ tag."""
        return seal_frame(self._aead, data_key, b"haechi-dek|" + context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Decrypt a wrapped data key; raise :class:`UnwrapError` if it was altered."""
        try:
            return open_frame(self._aead, wrapped, b"haechi-dek|" + context)
        except InvalidTag:
            raise UnwrapError("a data key failed authentication") from None

    def derive(self, purpose: str) -> bytes:
        """HKDF-SHA256 of the master key with ``purpose`` as info."""
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"haechi|{purpose}".encode()
        ).derive(self._master)


def create_master_key_file(path: Path) -> None:
    """Write a new random master key to ``path`` with mode 0600; never overwrite one."""
    key = base64.b64encode(secrets.token_bytes(DATA_KEY_BYTES)).decode("ascii")
    key_id = f"local-{secrets.token_hex(4)}"
    write_key_file(path, f"{_MAGIC}\n{key_id}\n{key}\n".encode("ascii"))


def write_key_file(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 0600 and write ``content``; never overwrite a file.

    The mode is given to ``open`` itself (O_EXCL), so no other user can open the file
    between its creation and a later ``chmod``.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def read_key_file(path: Path, *, what: str) -> bytes:
    """The bytes of a key file that only its owner may read.

    A missing file, a directory, or a file open to its group or to others (any of the
    bits 0077) is refused with a :class:`ConfigurationError` that says what to do. The
    mode is checked on the file that was opened (``fstat``), not on the path, so the
    file cannot be swapped between the check and the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ConfigurationError(f"{what} file {path} not found; run `haechi init` first") from None
    except OSError as exc:
        raise ConfigurationError(
            f"{what} file {path} cannot be read ({type(exc).__name__})"
        ) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigurationError(f"{what} file {path} is not a regular file")
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"{what} file {path} is readable by others; run `chmod 600 {path}`"
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)
