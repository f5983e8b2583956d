"""A real PKCS#11 token for the tests: SoftHSM2, initialised in a temporary directory.

SoftHSM2 reads ``SOFTHSM2_CONF`` when the library is first initialised, so one token
directory serves the whole session; each test gets a token of its own, by label.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest

from haechi.crypto.pkcs11 import Pkcs11KeyProvider

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = "123456"


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The directory of SoftHSM2's tokens, with SOFTHSM2_CONF pointing at it."""
    if shutil.which("softhsm2-util") is None or not SOFTHSM_MODULE.exists():
        pytest.fail("SoftHSM2 is needed: apt-get install -y softhsm2")
    home = tmp_path_factory.mktemp("softhsm")
    (home / "tokens").mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    yield home
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


def new_token(label: str) -> None:
    """Initialise a fresh token ``label`` with the user PIN :data:`PIN`."""
    subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", label),
            *("--so-pin", "12345678", "--pin", PIN),
        ],
        check=True,
        capture_output=True,
    )
    # A token made after the library was initialised is seen once it is initialised again.
    pkcs11.lib(str(SOFTHSM_MODULE)).reinitialize()


@pytest.fixture
def token_label(softhsm: Path) -> str:
    label = f"t-{secrets.token_hex(4)}"
    new_token(label)
    return label


@pytest.fixture
def hsm(token_label: str) -> Iterator[Pkcs11KeyProvider]:
    provider = Pkcs11KeyProvider(SOFTHSM_MODULE, token_label=token_label, pin=PIN)
    yield provider
    provider.close()
