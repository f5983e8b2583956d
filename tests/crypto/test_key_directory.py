"""The local key directory and the master key ring: files, removal, rotation across processes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from haechi.crypto.keys import LocalKeyProvider, UnwrapError, create_master_key_file, new_data_key
from haechi.errors import ConfigurationError


def _provider(home: Path) -> LocalKeyProvider:
    if not (home / "master.key").exists():
        create_master_key_file(home / "master.key")
    return LocalKeyProvider.from_file(home / "master.key", key_directory=home / "keys")


def test_epoch_keys_are_private_files_sealed_under_the_master(tmp_path: Path) -> None:
    """It writes one 0600 file per epoch key in a 0700 directory, the key itself not in it."""
    keys = _provider(tmp_path)
    keys.create_epoch("ep-m20270301-aaaaaaaaaa")
    file = tmp_path / "keys" / "ep-m20270301-aaaaaaaaaa.key"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    data_key = new_data_key()
    wrapped = keys.wrap_epoch("ep-m20270301-aaaaaaaaaa", data_key, context=b"c")
    again = _provider(tmp_path)  # a restart reads the file
    assert again.unwrap_epoch("ep-m20270301-aaaaaaaaaa", wrapped, context=b"c") == data_key
    with pytest.raises(FileExistsError):
        keys.create_epoch("ep-m20270301-aaaaaaaaaa")  # never over another key
    assert [p.name for p in (tmp_path / "keys").iterdir()] == [file.name]  # no temporary left


def test_a_removed_epoch_key_is_gone_for_every_process(tmp_path: Path) -> None:
    """It overwrites and unlinks the file; a fresh provider cannot open what it wrapped."""
    keys = _provider(tmp_path)
    keys.create_epoch("ep-m20270302-bbbbbbbbbb")
    wrapped = keys.wrap_epoch("ep-m20270302-bbbbbbbbbb", new_data_key(), context=b"c")
    keys.destroy_epoch("ep-m20270302-bbbbbbbbbb")
    assert not keys.has_epoch("ep-m20270302-bbbbbbbbbb")
    with pytest.raises(UnwrapError):
        _provider(tmp_path).unwrap_epoch("ep-m20270302-bbbbbbbbbb", wrapped, context=b"c")
    keys.destroy_epoch("ep-m20270302-bbbbbbbbbb")  # again: nothing to do


def test_a_key_directory_open_to_others_or_a_bad_id_is_refused(tmp_path: Path) -> None:
    """It refuses a directory others can read, and an epoch id that is not a safe file name."""
    keys = _provider(tmp_path)
    with pytest.raises(ConfigurationError):
        keys.create_epoch("../master")
    os.chmod(tmp_path / "keys", 0o755)
    with pytest.raises(ConfigurationError, match="chmod 700"):
        _provider(tmp_path)


def test_a_master_rotation_is_seen_by_another_process(tmp_path: Path) -> None:
    """It reseals the directory; a provider that loaded the old master opens the new files."""
    rotating, stale = _provider(tmp_path), _provider(tmp_path)
    rotating.create_epoch("ep-m20270303-cccccccccc")
    wrapped = rotating.wrap_epoch("ep-m20270303-cccccccccc", b"k" * 32, context=b"c")
    derived = rotating.derive("blind-index-v1")
    old, new = rotating.rotate_master()
    assert rotating.stored_under(old) == 0
    under_new = rotating.wrap(b"d" * 32, context=b"rights|r1")
    assert stale.unwrap(under_new, context=b"rights|r1") == b"d" * 32
    assert stale.unwrap_epoch("ep-m20270303-cccccccccc", wrapped, context=b"c") == b"k" * 32
    assert stale.key_id == new
    rotating.destroy_master(old)
    fresh = _provider(tmp_path)
    assert fresh.masters_held() == [new]
    assert fresh.derive("blind-index-v1") == derived
