"""The local key provider: a master key file, and the key directory of epoch keys.

The master key file (``master.key``, 0600) holds the current master key. Rotating it
(``haechi keys rotate --master``) writes the new key to ``master.key.next``, keeps the
old one as ``master.key.retired-<id>`` and moves the new one into place (a rename:
atomic), then seals every file of the key directory again under the new key. Retired
master keys still open what they wrapped until the key job destroys them, a backup
window after their retirement, by overwriting and unlinking their files. A process
that loaded the old key notices the file changed at its next wrap and reloads.

Keys derived from the master (the blind index, the code HMACs, the TOTP sealing key)
are stored in the key directory the first time they are asked for (``dv-<purpose>``),
sealed like epoch keys, so they outlive the master they were first derived from.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import threading
from contextlib import suppress
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from haechi.crypto.envelope import open_frame, seal_frame
from haechi.crypto.key_directory import KeyDirectory, shred_file, sync_directory
from haechi.crypto.keys import (
    DATA_KEY_BYTES,
    MAGIC,
    KeyProvider,
    UnwrapError,
    create_master_key_file,
    read_key_file,
)
from haechi.errors import ConfigurationError

__all__ = ["LocalKeyProvider"]

_NEXT = ".next"
_RETIRED = ".retired-"
_DERIVED = "dv-"


def _load_master(path: Path) -> tuple[str, bytes]:
    """(key id, key) of a master key file, refusing one that others can read."""
    try:
        text = read_key_file(path, what="master key").decode("ascii")
    except UnicodeDecodeError:
        raise ConfigurationError(f"master key file {path} is damaged") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 3 or lines[0] != MAGIC:
        raise ConfigurationError(f"master key file {path} is not a Haechi key file")
    try:
        key = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise ConfigurationError(f"master key file {path} is damaged") from None
    if len(key) != DATA_KEY_BYTES:
        raise ConfigurationError(f"master key file {path} is damaged")
    return lines[1], key


class LocalKeyProvider(KeyProvider):
    """The master key lives in a local file readable by its owner only.

    Epoch keys live in ``key_directory`` (one 0600 file each, sealed under the master
    key); without one (a library user's in-memory engine) they live in this object's
    memory and die with it.
    """

    def __init__(
        self,
        master_key: bytes,
        *,
        key_id: str = "local-1",
        key_directory: Path | None = None,
        master_path: Path | None = None,
    ):
        if len(master_key) != DATA_KEY_BYTES:
            raise ConfigurationError("the master key must be 32 bytes")
        self._lock = threading.RLock()
        self._path = master_path
        self._stamp: tuple[int, int] | None = None
        self._masters: dict[str, AESGCM] = {}
        self._raw: dict[str, bytes] = {}
        self._directory: KeyDirectory | None = None
        self._use(key_id, master_key)
        if key_directory is not None:
            self._directory = KeyDirectory(key_directory, master=self._aead, master_id=key_id)
        self._load_others()
        self._memory: dict[str, bytes] = {}
        self._epochs: dict[str, AESGCM] = {}

    def _use(self, key_id: str, key: bytes) -> None:
        self.key_id = key_id
        self._aead = AESGCM(key)
        self._masters[key_id] = self._aead
        self._raw[key_id] = key
        if self._directory is not None:
            self._directory.add_master(key_id, self._aead)
            self._directory.master_id = key_id
        if self._path is not None:
            info = self._path.stat()
            self._stamp = (info.st_ino, info.st_mtime_ns)

    def _load_others(self) -> None:
        """Hold the retired (and a pending next) master keys beside the current one."""
        if self._path is None:
            return
        for path in self._path.parent.glob(f"{self._path.name}{_RETIRED}*"):
            self._hold(path)
        if self._next_path.exists():
            self._hold(self._next_path)

    def _hold(self, path: Path) -> None:
        key_id, key = _load_master(path)
        self._masters.setdefault(key_id, AESGCM(key))
        self._raw.setdefault(key_id, key)
        if self._directory is not None:
            self._directory.add_master(key_id, self._masters[key_id])

    @property
    def _next_path(self) -> Path:
        assert self._path is not None
        return self._path.with_name(self._path.name + _NEXT)

    def _retired_path(self, key_id: str) -> Path:
        assert self._path is not None
        return self._path.with_name(f"{self._path.name}{_RETIRED}{key_id}")

    def _refresh(self) -> None:
        """Reload the master key file if another process rotated it."""
        if self._path is None:
            return
        info = self._path.stat()
        if (info.st_ino, info.st_mtime_ns) == self._stamp:
            return
        with self._lock:
            self._load_others()
            key_id, key = _load_master(self._path)
            self._use(key_id, key)

    @property
    def description(self) -> str:
        """The key directory, or that epoch keys are kept in memory only."""
        if self._directory is None:
            return "local (epoch keys in memory)"
        return f"local key directory {self._directory.path}"

    @property
    def destroy_method(self) -> str:
        """The file overwritten with random bytes, synced, unlinked."""
        if self._directory is None:
            return "local memory (forgotten)"
        return "local key directory (file overwritten, synced, removed)"

    @classmethod
    def from_file(cls, path: Path, *, key_directory: Path | None = None) -> LocalKeyProvider:
        """Load the master key file, refusing one that others can read."""
        key_id, key = _load_master(path)
        return cls(key, key_id=key_id, key_directory=key_directory, master_path=path)

    # -- the master key ---------------------------------------------------------------

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        """Encrypt ``data_key`` under the current master key; nonce ‖ ciphertext ‖ tag."""
        self._refresh()
        return seal_frame(self._aead, data_key, b"haechi-dek|" + context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Decrypt under any master key held; :class:`UnwrapError` if none opens it."""
        associated = b"haechi-dek|" + context
        for attempt in range(2):
            if attempt:
                self._refresh()  # another process may have rotated the master key
            for aead in [self._aead, *self._masters.values()]:
                try:
                    return open_frame(aead, wrapped, associated)
                except InvalidTag:
                    continue
        raise UnwrapError("a data key failed authentication")

    def derive(self, purpose: str) -> bytes:
        """The key for ``purpose``: stored in the key directory from its first use."""
        if self._directory is None:
            return self._hkdf(purpose)
        name = _DERIVED + re.sub(r"[^a-z0-9-]", "-", purpose.lower())[:40]
        stored = self._directory.read(name)
        if stored is not None:
            return stored
        value = self._hkdf(purpose)
        with suppress(FileExistsError):  # another process stored it first: the same value
            self._directory.write(name, value)
        return value

    def _hkdf(self, purpose: str) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"haechi|{purpose}".encode()
        ).derive(self._raw[self.key_id])

    def masters_held(self) -> list[str]:
        """The current master first, then the retired ones still held."""
        return [self.key_id, *sorted(k for k in self._masters if k != self.key_id)]

    def rotate_master(self) -> tuple[str, str]:
        """New master into place (old kept as ``.retired-<id>``); the key directory resealed."""
        if self._path is None:
            raise ConfigurationError("a master key held in memory only cannot be rotated")
        with self._lock:
            self._refresh()
            old = self.key_id
            if not self._next_path.exists():
                create_master_key_file(self._next_path)
            new_id, new_key = _load_master(self._next_path)
            retired = self._retired_path(old)
            if not retired.exists():
                os.link(self._path, retired)
            os.replace(self._next_path, self._path)
            sync_directory(self._path.parent)
            self._use(new_id, new_key)
        self.reseal()
        return old, new_id

    def reseal(self) -> int:
        """Seal every key-directory file under the current master key."""
        if self._directory is None:
            return 0
        self._refresh()
        done = 0
        for name in self._directory.ids():
            if self._directory.sealed_under(name) not in (None, self.key_id):
                key = self._directory.read(name)
                if key is not None:
                    self._directory.write(name, key, replace=True)
                    done += 1
        return done

    def stored_under(self, master_id: str) -> int:
        """Key-directory files still sealed under ``master_id``."""
        if self._directory is None:
            return 0
        return sum(
            1 for name in self._directory.ids() if self._directory.sealed_under(name) == master_id
        )

    def destroy_master(self, master_id: str) -> None:
        """Overwrite and remove a retired master key file; forget the key."""
        self._refresh()
        if master_id == self.key_id:
            raise ConfigurationError("the current master key cannot be destroyed")
        with self._lock:
            self._masters.pop(master_id, None)
            self._raw.pop(master_id, None)
            if self._directory is not None:
                self._directory.forget_master(master_id)
        if self._path is not None:
            shred_file(self._retired_path(master_id))

    # -- epoch keys -------------------------------------------------------------------

    def create_epoch(self, epoch_id: str) -> None:
        """A random key, written to the key directory (or kept in memory)."""
        key = secrets.token_bytes(DATA_KEY_BYTES)
        if self._directory is not None:
            self._refresh()
            self._directory.write(epoch_id, key)
        else:
            self._memory[epoch_id] = key
        with self._lock:
            self._epochs[epoch_id] = AESGCM(key)

    def _epoch(self, epoch_id: str) -> AESGCM:
        aead = self._epochs.get(epoch_id)
        if aead is not None:
            return aead
        self._refresh()  # its file may be sealed under a master rotated by another process
        key = (
            self._directory.read(epoch_id)
            if self._directory is not None
            else self._memory.get(epoch_id)
        )
        if key is None:
            raise UnwrapError(
                f"epoch key {epoch_id} is not in the key directory: destroyed, or this "
                "server does not share the key directory of the others (keys.directory)"
            )
        aead = AESGCM(key)
        with self._lock:
            self._epochs[epoch_id] = aead
        return aead

    def wrap_epoch(self, epoch_id: str, data_key: bytes, *, context: bytes) -> bytes:
        """AES-256-GCM under the epoch key; nonce ‖ ciphertext ‖ tag."""
        return seal_frame(self._epoch(epoch_id), data_key, context)

    def unwrap_epoch(self, epoch_id: str, wrapped: bytes, *, context: bytes) -> bytes:
        """Decrypt under the epoch key; :class:`UnwrapError` if altered or destroyed."""
        try:
            return open_frame(self._epoch(epoch_id), wrapped, context)
        except InvalidTag:
            raise UnwrapError("a data key failed authentication") from None

    def destroy_epoch(self, epoch_id: str) -> None:
        """Forget the key here and remove its file (overwritten first)."""
        with self._lock:
            self._epochs.pop(epoch_id, None)
        self._memory.pop(epoch_id, None)
        if self._directory is not None:
            self._directory.remove(epoch_id)

    def has_epoch(self, epoch_id: str) -> bool:
        """Whether the key file (or the in-memory key) exists."""
        if self._directory is not None:
            return self._directory.exists(epoch_id)
        return epoch_id in self._memory
