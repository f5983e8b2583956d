"""Envelope sealing: one nonce ‖ ciphertext ‖ tag framing, and versioned associated data."""

from __future__ import annotations

import secrets

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from haechi.crypto import LocalKeyProvider, Sealer, TamperedCiphertext, item_context, new_data_key
from haechi.crypto.envelope import open_frame, seal_frame


def test_one_framing_serves_items_and_wrapped_keys() -> None:
    """It opens a wrapped data key with the same frame helper that seals items."""
    master = secrets.token_bytes(32)
    provider = LocalKeyProvider(master)
    data_key = new_data_key()
    wrapped = provider.wrap(data_key, context=b"c1")
    assert open_frame(AESGCM(master), wrapped, b"haechi-dek|c1") == data_key
    rewrapped = seal_frame(AESGCM(master), data_key, b"haechi-dek|c1")
    assert provider.unwrap(rewrapped, context=b"c1") == data_key


def test_a_frame_with_other_associated_data_fails() -> None:
    """It raises InvalidTag when the associated data differs."""
    aead = AESGCM(new_data_key())
    sealed = seal_frame(aead, b"value", b"one")
    with pytest.raises(InvalidTag):
        open_frame(aead, sealed, b"two")


def test_each_key_version_has_its_own_associated_data() -> None:
    """It gives every key version of an item distinct associated data, version 0 unchanged."""
    contexts = {item_context("c1", "name", version=version) for version in range(4)}
    assert len(contexts) == 4
    assert item_context("c1", "name") == b"haechi-item|c1|name"
    sealer = Sealer(new_data_key())
    sealed = sealer.seal("김민지", context=item_context("c1", "name", version=2))
    with pytest.raises(TamperedCiphertext):
        sealer.open(sealed, context=item_context("c1", "name", version=1))
    assert sealer.open(sealed, context=item_context("c1", "name", version=2)) == "김민지"
