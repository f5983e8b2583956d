"""Secret key files: one loader and one writer for the master key and the signing key."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from haechi.audit.signing import HeadSigner, create_signing_key_file
from haechi.crypto.keys import (
    LocalKeyProvider,
    create_master_key_file,
    read_key_file,
    write_key_file,
)
from haechi.errors import ConfigurationError

KEY_FILES: list[tuple[str, Callable[[Path], None], Callable[[Path], object]]] = [
    ("master key", create_master_key_file, LocalKeyProvider.from_file),
    ("signing key", create_signing_key_file, HeadSigner.from_file),
]
IDS = [what for what, _, _ in KEY_FILES]


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask of 0, so that only the code itself can keep a new file private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("open_umask")
@pytest.mark.parametrize(("what", "create", "load"), KEY_FILES, ids=IDS)
def test_key_files_are_created_0600_whatever_the_umask(
    tmp_path: Path, what: str, create: Callable[[Path], None], load: Callable[[Path], object]
) -> None:
    """It creates each key file with mode 0600 even under umask 0, and loads it back."""
    path = tmp_path / "key"
    create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    load(path)
    with pytest.raises(FileExistsError):
        create(path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o601])
@pytest.mark.parametrize(("what", "create", "load"), KEY_FILES, ids=IDS)
def test_key_files_open_to_others_are_refused(
    tmp_path: Path,
    mode: int,
    what: str,
    create: Callable[[Path], None],
    load: Callable[[Path], object],
) -> None:
    """It refuses either key file when its group or others hold any permission."""
    path = tmp_path / "key"
    create(path)
    os.chmod(path, mode)
    with pytest.raises(ConfigurationError, match=f"{what} file .*chmod 600"):
        load(path)


@pytest.mark.parametrize(("what", "create", "load"), KEY_FILES, ids=IDS)
def test_a_missing_key_file_says_to_run_init(
    tmp_path: Path, what: str, create: Callable[[Path], None], load: Callable[[Path], object]
) -> None:
    """It names the missing key file and the command that creates it."""
    with pytest.raises(ConfigurationError, match=f"{what} file .*haechi init"):
        load(tmp_path / "absent.key")


@pytest.mark.parametrize(("what", "create", "load"), KEY_FILES, ids=IDS)
def test_a_directory_in_place_of_a_key_file_is_a_configuration_error(
    tmp_path: Path, what: str, create: Callable[[Path], None], load: Callable[[Path], object]
) -> None:
    """It refuses a directory where a key file should be with a message, not a traceback."""
    directory = tmp_path / "key"
    directory.mkdir(mode=0o700)
    with pytest.raises(ConfigurationError, match=f"{what} file"):
        load(directory)


def test_the_check_is_on_the_file_read(tmp_path: Path) -> None:
    """It reads the bytes of a private file and refuses the same file once opened up."""
    path = tmp_path / "secret"
    write_key_file(path, b"\x00secret\xff")
    assert read_key_file(path, what="test key") == b"\x00secret\xff"
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError, match="test key file"):
        read_key_file(path, what="test key")
