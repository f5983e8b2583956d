"""The local key directory: one file per epoch key, apart from the database files.

Each file holds its epoch key sealed (AES-256-GCM) under the master key, with the
epoch id as associated data, and the id of the master key that sealed it:

    haechi-epoch-key-v1
    <master key id>
    <base64 of nonce ‖ ciphertext ‖ tag>

A file is written atomically (a 0600 temporary file, fsync, link into place, fsync
of the directory), so a crash leaves either no key or the whole key, never half of
one. It is removed by overwriting its bytes with random ones and syncing them before
unlinking it. On a copy-on-write or flash file system an overwrite may land on new
blocks: that is why the key inside is sealed under the master key, whose rotation
(``haechi keys rotate --master``) makes any such remnant unreadable too.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from haechi.crypto.envelope import open_frame, seal_frame
from haechi.errors import ConfigurationError

__all__ = ["KeyDirectory", "shred_file", "sync_directory", "valid_epoch_id"]

_MAGIC = "haechi-epoch-key-v1"
_SUFFIX = ".key"
_EPOCH_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")


def valid_epoch_id(epoch_id: str) -> str:
    """``epoch_id`` if it is a safe file name; a :class:`ConfigurationError` otherwise."""
    if not _EPOCH_ID.fullmatch(epoch_id):
        raise ConfigurationError("an epoch key id must be 1-50 lowercase letters, digits, -")
    return epoch_id


def _context(epoch_id: str) -> bytes:
    return f"haechi-epoch|{epoch_id}".encode()


class KeyDirectory:
    """Epoch key files in one directory, sealed under the master keys given."""

    def __init__(self, path: Path, *, master: AESGCM, master_id: str):
        self.path = path
        self.master_id = master_id
        self._masters = {master_id: master}
        self._prepare()

    def add_master(self, master_id: str, master: AESGCM) -> None:
        """Accept files sealed under another (older) master key as well."""
        self._masters[master_id] = master

    def forget_master(self, master_id: str) -> None:
        """No longer open files sealed under ``master_id`` (it was destroyed)."""
        self._masters.pop(master_id, None)

    def _prepare(self) -> None:
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            mode = self.path.stat().st_mode
        except OSError as exc:
            raise ConfigurationError(
                f"key directory {self.path} cannot be used ({type(exc).__name__})"
            ) from None
        if not stat.S_ISDIR(mode):
            raise ConfigurationError(f"key directory {self.path} is not a directory")
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                f"key directory {self.path} is open to others; run `chmod 700 {self.path}`"
            )

    def _file(self, epoch_id: str) -> Path:
        return self.path / f"{valid_epoch_id(epoch_id)}{_SUFFIX}"

    def write(self, epoch_id: str, key: bytes, *, replace: bool = False) -> None:
        """Store ``key`` as ``epoch_id``, atomically; never over another key unless ``replace``."""
        sealed = seal_frame(self._masters[self.master_id], key, _context(epoch_id))
        content = f"{_MAGIC}\n{self.master_id}\n{base64.b64encode(sealed).decode()}\n".encode()
        final = self._file(epoch_id)
        temporary = self.path / f".{epoch_id}.{secrets.token_hex(6)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            if replace:
                os.replace(temporary, final)
            else:
                os.link(temporary, final)  # fails if the name is taken
                os.unlink(temporary)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._sync_directory()

    def read(self, epoch_id: str) -> bytes | None:
        """The key ``epoch_id``, or None if its file is gone."""
        path = self._file(epoch_id)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode) or mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigurationError(f"epoch key file {path} must be a 0600 regular file")
            with os.fdopen(fd, "rb", closefd=False) as handle:
                content = handle.read()
        finally:
            os.close(fd)
        master_id, sealed = self._parse(path, content)
        master = self._masters.get(master_id)
        if master is None:
            raise ConfigurationError(f"epoch key file {path} is sealed under an unknown master")
        try:
            return open_frame(master, sealed, _context(epoch_id))
        except InvalidTag:
            raise ConfigurationError(f"epoch key file {path} is damaged") from None

    def sealed_under(self, epoch_id: str) -> str | None:
        """The id of the master key that sealed ``epoch_id``'s file, or None if it is gone."""
        path = self._file(epoch_id)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            return None
        return self._parse(path, content)[0]

    @staticmethod
    def _parse(path: Path, content: bytes) -> tuple[str, bytes]:
        try:
            lines = content.decode("ascii").split()
            if len(lines) != 3 or lines[0] != _MAGIC:
                raise ValueError
            return lines[1], base64.b64decode(lines[2], validate=True)
        except ValueError:
            raise ConfigurationError(f"epoch key file {path} is damaged") from None

    def exists(self, epoch_id: str) -> bool:
        """Whether the file of ``epoch_id`` is there."""
        return self._file(epoch_id).exists()

    def ids(self) -> list[str]:
        """Every epoch id with a file here, sorted."""
        return sorted(
            path.name.removesuffix(_SUFFIX)
            for path in self.path.glob(f"*{_SUFFIX}")
            if _EPOCH_ID.fullmatch(path.name.removesuffix(_SUFFIX))
        )

    def remove(self, epoch_id: str) -> None:
        """Overwrite the file of ``epoch_id`` with random bytes, sync, unlink (if present)."""
        shred_file(self._file(epoch_id))

    def _sync_directory(self) -> None:
        sync_directory(self.path)


def shred_file(path: Path) -> None:
    """Overwrite ``path`` with random bytes, sync them, unlink it, sync its directory."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        os.write(fd, secrets.token_bytes(max(size, 1)))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Fsync ``directory``, so that a rename or unlink in it survives a power loss."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
