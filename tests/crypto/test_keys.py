"""Master key file, key wrapping and sealing of item values."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from haechi.crypto import (
    BlindIndex,
    LocalKeyProvider,
    Sealer,
    TamperedCiphertext,
    UnwrapError,
    create_master_key_file,
    item_context,
    new_data_key,
)
from haechi.errors import ConfigurationError


def test_master_key_file_is_private_and_loads(tmp_path: Path) -> None:
    """It is created with mode 0600 and never overwritten."""
    path = tmp_path / "master.key"
    create_master_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    provider = LocalKeyProvider.from_file(path)
    assert provider.key_id.startswith("local-")
    with pytest.raises(FileExistsError):
        create_master_key_file(path)


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    """It refuses a master key file with group or world permissions."""
    path = tmp_path / "master.key"
    create_master_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        LocalKeyProvider.from_file(path)


def test_a_missing_key_file_says_what_to_do(tmp_path: Path) -> None:
    """It tells the user to run `haechi init`."""
    with pytest.raises(ConfigurationError, match="haechi init"):
        LocalKeyProvider.from_file(tmp_path / "master.key")


def test_wrapped_key_is_bound_to_its_collection() -> None:
    """It refuses to unwrap a data key under another collection's id."""
    provider = LocalKeyProvider(secrets.token_bytes(32))
    data_key = new_data_key()
    wrapped = provider.wrap(data_key, context=b"collection-a")
    assert provider.unwrap(wrapped, context=b"collection-a") == data_key
    with pytest.raises(UnwrapError):
        provider.unwrap(wrapped, context=b"collection-b")


def test_another_master_key_cannot_unwrap() -> None:
    """It refuses a wrapped key made under another master key."""
    wrapped = LocalKeyProvider(secrets.token_bytes(32)).wrap(new_data_key(), context=b"c")
    with pytest.raises(UnwrapError):
        LocalKeyProvider(secrets.token_bytes(32)).unwrap(wrapped, context=b"c")


def test_sealed_value_round_trips_and_hides_the_plaintext() -> None:
    """It opens what it sealed; the sealed bytes do not contain the value."""
    sealer = Sealer(new_data_key())
    sealed = sealer.seal("김민지", context=item_context("c1", "name"))
    assert "김민지".encode() not in sealed
    assert sealer.open(sealed, context=item_context("c1", "name")) == "김민지"


@pytest.mark.parametrize(
    ("collection", "item"), [("c2", "name"), ("c1", "company")], ids=["other-row", "other-item"]
)
def test_a_moved_ciphertext_does_not_open(collection: str, item: str) -> None:
    """It refuses a ciphertext moved to another collection or another item."""
    sealer = Sealer(new_data_key())
    sealed = sealer.seal("김민지", context=item_context("c1", "name"))
    with pytest.raises(TamperedCiphertext):
        sealer.open(sealed, context=item_context(collection, item))


def test_a_flipped_bit_is_detected() -> None:
    """It refuses a ciphertext with one bit changed."""
    sealer = Sealer(new_data_key())
    sealed = bytearray(sealer.seal("x", context=b"ctx"))
    sealed[-1] ^= 1
    with pytest.raises(TamperedCiphertext):
        sealer.open(bytes(sealed), context=b"ctx")


def test_blind_index_separates_kinds_and_keys() -> None:
    """It gives equal digests for equal inputs only under the same key and kind."""
    key = secrets.token_bytes(32)
    index = BlindIndex(key)
    assert index.digest("email", "a@b.kr") == BlindIndex(key).digest("email", "a@b.kr")
    assert index.digest("email", "a@b.kr") != index.digest("phone", "a@b.kr")
    assert index.digest("email", "a@b.kr") != BlindIndex(secrets.token_bytes(32)).digest(
        "email", "a@b.kr"
    )
