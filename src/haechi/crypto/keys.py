"""Key providers: who holds the keys that wrap data keys, outside the database.

A data key belongs to one collection. It is wrapped (AES-256-GCM, the collection id as
associated data) by an *epoch key* (see :mod:`haechi.crypto.epochs`) that the
provider holds; the wrapped key is stored beside the collection. The master key wraps
what has no epoch (request documents, complaint threads, data keys from before
epochs). Destroying an epoch key in the provider makes every copy of the data keys it
wrapped, backups included, unreadable. The local provider keeps the master key in a
0600 file and epoch keys in a key directory (:mod:`haechi.crypto.key_directory`);
the PKCS#11 provider (:mod:`haechi.crypto.pkcs11`) keeps them in a token; Vault
Transit or a cloud KMS would implement the same methods remotely (docs/keys.md).

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

from haechi.errors import ConfigurationError, IntegrityFailure

__all__ = [
    "DATA_KEY_BYTES",
    "MAGIC",
    "KeyProvider",
    "LocalKeyProvider",
    "UnwrapError",
    "create_master_key_file",
    "new_data_key",
    "read_key_file",
    "write_key_file",
]

DATA_KEY_BYTES = 32
MAGIC = "haechi-master-key-v1"


class UnwrapError(IntegrityFailure):
    """A wrapped key could not be unwrapped (wrong master key or tampered bytes)."""

    code = "KEY_UNWRAP_FAILED"


def new_data_key() -> bytes:
    """A fresh random AES-256 data key."""
    return secrets.token_bytes(DATA_KEY_BYTES)


class KeyProvider(ABC):
    """Wraps and unwraps data keys with keys it never hands out.

    The master key is used by :meth:`wrap` and :meth:`unwrap`; epoch keys, named by
    the ids the database gives them, by the ``*_epoch`` methods. Destroying an epoch
    key that does not exist is not an error (a job finishing a destruction redoes it).
    """

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

    @abstractmethod
    def create_epoch(self, epoch_id: str) -> None:
        """Create a new random epoch key named ``epoch_id``, durably, before returning."""

    @abstractmethod
    def wrap_epoch(self, epoch_id: str, data_key: bytes, *, context: bytes) -> bytes:
        """Encrypt ``data_key`` under the epoch key ``epoch_id``, bound to ``context``."""

    @abstractmethod
    def unwrap_epoch(self, epoch_id: str, wrapped: bytes, *, context: bytes) -> bytes:
        """Decrypt a key made by :meth:`wrap_epoch`; :class:`UnwrapError` if it cannot."""

    @abstractmethod
    def destroy_epoch(self, epoch_id: str) -> None:
        """Destroy the epoch key ``epoch_id`` for good (nothing if it is already gone)."""

    @abstractmethod
    def has_epoch(self, epoch_id: str) -> bool:
        """Whether the provider still holds the epoch key ``epoch_id``."""

    @property
    def description(self) -> str:
        """What holds the keys, for ``haechi keys status`` (no secret in it)."""
        return type(self).__name__

    @property
    def destroy_method(self) -> str:
        """How :meth:`destroy_epoch` destroys a key, for the key-destruction record."""
        return type(self).__name__

    # -- master-key rotation (a provider that cannot rotate keeps these defaults) ----

    def masters_held(self) -> list[str]:
        """Ids of the master keys held: the current one first, then retired ones."""
        return [self.key_id]

    def rotate_master(self) -> tuple[str, str]:
        """Make a new master key current; the old one is retired but still held.

        Returns (old id, new id). Redoable: a rotation a crash interrupted is finished.
        """
        raise ConfigurationError(f"{self.description} cannot rotate its master key")

    def reseal(self) -> int:
        """Seal again under the current master whatever the provider stores under an older one."""
        return 0

    def stored_under(self, master_id: str) -> int:
        """How many keys the provider stores sealed under the master ``master_id``."""
        del master_id
        return 0

    def destroy_master(self, master_id: str) -> None:
        """Destroy the retired master key ``master_id`` (nothing if it is gone)."""
        raise ConfigurationError(f"{self.description} cannot destroy a master key")


def create_master_key_file(path: Path) -> None:
    """Write a new random master key to ``path`` with mode 0600; never overwrite one."""
    key = base64.b64encode(secrets.token_bytes(DATA_KEY_BYTES)).decode("ascii")
    key_id = f"local-{secrets.token_hex(4)}"
    write_key_file(path, f"{MAGIC}\n{key_id}\n{key}\n".encode("ascii"))


def write_key_file(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 0600 and write ``content``; never overwrite a file.

    The mode is given to ``open`` itself (O_EXCL), so no other user can open the file
    between its creation and a later ``chmod``.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
    except BaseException:
        # A key cut short (a full disk) is no key: leave no file that says otherwise.
        path.unlink(missing_ok=True)
        raise


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


# The local provider has a module of its own (for size); it is importable from here.
from haechi.crypto.local import LocalKeyProvider  # noqa: E402
