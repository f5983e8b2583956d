"""Keys in a PKCS#11 token: SoftHSM2 in tests, a hardware or cloud HSM in production.

Every key is generated in the token as a sensitive, non-extractable AES-256 key
(``CKA_SENSITIVE``, not ``CKA_EXTRACTABLE``): no key ever leaves it. Data keys are
wrapped and unwrapped inside the token (``CKM_AES_GCM`` with the same associated data
as the local provider), epoch keys are destroyed in it (``C_DestroyObject``), and the
keys derived for the blind index and codes are HMAC-SHA256 computed by the token
with a generic secret key of its own (``CKM_SHA256_HMAC``). Objects are found by
label: ``haechi-master-<time>`` (the newest is current; older ones are retired and
destroyed by the key job), ``haechi-derive``, and the epoch ids. The derivation key
is not rotated with the master key: rotating it needs a re-index (docs/keys.md).

One session per provider, used under a lock: PKCS#11 sessions are not meant to be
used by two threads at once. docs/keys.md says how to point the same provider at
another token (the module path, the token label and its PIN are all it needs).
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import NoSuchKey, PKCS11Error, UserAlreadyLoggedIn

from haechi.config import KeySettings
from haechi.crypto.keys import KeyProvider, UnwrapError
from haechi.errors import ConfigurationError

__all__ = ["Pkcs11KeyProvider"]

_MASTER = "haechi-master-"
_DERIVE = "haechi-derive"
_NONCE = 12
_TAG_BITS = 128


def _new_master_label() -> str:
    """A master key's label, sorting after every earlier one (its creation time, in µs)."""
    return f"{_MASTER}{datetime.now(UTC):%Y%m%d%H%M%S%f}"


def _secret(store: bool = True) -> dict[Any, Any]:
    return {
        Attribute.TOKEN: store,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.PRIVATE: True,
    }


class Pkcs11KeyProvider(KeyProvider):
    """A :class:`KeyProvider` whose keys are objects in one PKCS#11 token."""

    def __init__(self, library: Path, *, token_label: str, pin: str):
        try:
            token = pkcs11.lib(str(library)).get_token(token_label=token_label)
            try:
                self._session = token.open(user_pin=pin, rw=True)
            except UserAlreadyLoggedIn:
                # Another session of this process logged in: the login is the token's.
                self._session = token.open(rw=True)
        except (PKCS11Error, RuntimeError, OSError) as exc:
            raise ConfigurationError(
                f"the PKCS#11 token {token_label!r} cannot be opened ({type(exc).__name__})"
            ) from None
        self._label = token_label
        self._lock = threading.Lock()
        self._handles: dict[str, Any] = {}
        with self._lock:
            labels = (
                str(key[Attribute.LABEL])
                for key in self._session.get_objects(
                    {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
                )
            )
            self._masters = sorted(label for label in labels if label.startswith(_MASTER))
            if not self._masters:
                # A new installation: the token's first keys.
                self._masters = [_new_master_label()]
                self._generate(KeyType.AES, self._masters[0])
            try:
                self._session.get_key(label=_DERIVE, object_class=ObjectClass.SECRET_KEY)
            except NoSuchKey:
                self._generate(KeyType.GENERIC_SECRET, _DERIVE, sign=True)
        # Labels sort by creation time: the newest master key is the current one.
        self.key_id = self._masters[-1].removeprefix("haechi-")

    @classmethod
    def from_settings(cls, settings: KeySettings) -> Pkcs11KeyProvider:
        """The provider the ``keys.pkcs11_*`` settings describe."""
        if settings.pkcs11_library is None or settings.pkcs11_pin is None:
            raise ConfigurationError("the pkcs11 provider needs keys.pkcs11_library and a PIN")
        return cls(
            settings.pkcs11_library,
            token_label=settings.pkcs11_token,
            pin=settings.pkcs11_pin.get_secret_value(),
        )

    @property
    def description(self) -> str:
        """The token's label."""
        return f"PKCS#11 token {self._label!r}"

    @property
    def destroy_method(self) -> str:
        """The object destroyed in the token."""
        return "PKCS#11 token (C_DestroyObject of a non-extractable key)"

    def close(self) -> None:
        """Close the session."""
        with self._lock:
            self._session.close()

    def _generate(self, kind: KeyType, label: str, *, sign: bool = False) -> Any:
        template = _secret()
        if sign:
            template[Attribute.SIGN] = True
        else:
            template.update({Attribute.ENCRYPT: True, Attribute.DECRYPT: True})
        return self._session.generate_key(kind, 256, label=label, store=True, template=template)

    def _key(self, label: str) -> Any:
        handle = self._handles.get(label)
        if handle is None:
            try:
                handle = self._session.get_key(
                    label=label, key_type=KeyType.AES, object_class=ObjectClass.SECRET_KEY
                )
            except NoSuchKey:
                raise UnwrapError(f"key {label} is not held by the token (destroyed)") from None
            self._handles[label] = handle
        return handle

    def _seal(self, label: str, plaintext: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        with self._lock:
            sealed = self._key(label).encrypt(
                plaintext,
                mechanism=Mechanism.AES_GCM,
                mechanism_param=GCMParams(nonce, context, _TAG_BITS),
            )
        return nonce + bytes(sealed)

    def _open(self, label: str, wrapped: bytes, context: bytes) -> bytes:
        with self._lock:
            key = self._key(label)
            try:
                return bytes(
                    key.decrypt(
                        wrapped[_NONCE:],
                        mechanism=Mechanism.AES_GCM,
                        mechanism_param=GCMParams(wrapped[:_NONCE], context, _TAG_BITS),
                    )
                )
            except PKCS11Error:
                raise UnwrapError("a data key failed authentication in the token") from None

    def wrap(self, data_key: bytes, *, context: bytes) -> bytes:
        """Encrypt under the current master key, inside the token."""
        return self._seal(self._masters[-1], data_key, b"haechi-dek|" + context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Decrypt under the master keys the token holds, newest first, inside it."""
        for label in reversed(self._masters):
            try:
                return self._open(label, wrapped, b"haechi-dek|" + context)
            except UnwrapError:
                continue
        raise UnwrapError("a data key failed authentication in the token")

    def masters_held(self) -> list[str]:
        """The current master key first, then retired ones."""
        return [label.removeprefix("haechi-") for label in reversed(self._masters)]

    def rotate_master(self) -> tuple[str, str]:
        """Generate a new master key in the token; the old one stays until destroyed."""
        old = self.key_id
        label = _new_master_label()
        with self._lock:
            self._generate(KeyType.AES, label)
            self._masters.append(label)
        self.key_id = label.removeprefix("haechi-")
        return old, self.key_id

    def destroy_master(self, master_id: str) -> None:
        """Destroy a retired master key in the token."""
        if master_id == self.key_id:
            raise ConfigurationError("the current master key cannot be destroyed")
        label = f"haechi-{master_id}"
        with self._lock:
            self._handles.pop(label, None)
            if label in self._masters:
                self._masters.remove(label)
            for key in list(self._session.get_objects({Attribute.LABEL: label})):
                key.destroy()

    def derive(self, purpose: str) -> bytes:
        """HMAC-SHA256 of the purpose under the token's derivation key."""
        with self._lock:
            key: Any = self._session.get_key(label=_DERIVE, object_class=ObjectClass.SECRET_KEY)
            return bytes(key.sign(f"haechi|{purpose}".encode(), mechanism=Mechanism.SHA256_HMAC))

    def create_epoch(self, epoch_id: str) -> None:
        """Generate the epoch key in the token (stored, sensitive, non-extractable)."""
        with self._lock:
            if epoch_id in self._handles or self._exists(epoch_id):
                raise ConfigurationError(f"the token already holds a key {epoch_id}")
            self._handles[epoch_id] = self._generate(KeyType.AES, epoch_id)

    def wrap_epoch(self, epoch_id: str, data_key: bytes, *, context: bytes) -> bytes:
        """AES-GCM inside the token under the epoch key."""
        return self._seal(epoch_id, data_key, context)

    def unwrap_epoch(self, epoch_id: str, wrapped: bytes, *, context: bytes) -> bytes:
        """AES-GCM inside the token under the epoch key."""
        return self._open(epoch_id, wrapped, context)

    def destroy_epoch(self, epoch_id: str) -> None:
        """Destroy every object labelled ``epoch_id`` in the token."""
        with self._lock:
            self._handles.pop(epoch_id, None)
            for key in list(self._session.get_objects({Attribute.LABEL: epoch_id})):
                key.destroy()

    def has_epoch(self, epoch_id: str) -> bool:
        """Whether the token holds a key labelled ``epoch_id``."""
        with self._lock:
            return self._exists(epoch_id)

    def _exists(self, label: str) -> bool:
        return any(True for _ in self._session.get_objects({Attribute.LABEL: label}))
