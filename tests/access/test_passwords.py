"""The password rule and the Argon2id hasher, configured by settings (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from haechi import ConfigurationError, InvalidInput, Settings
from haechi.access.passwords import Passwords, character_classes
from haechi.config import SETTINGS_FILE, AuthSettings
from tests.conftest import cheap_auth

CHEAP = cheap_auth()


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("abcdefghij", True),  # 10 characters, one class
        ("abcdefg1", True),  # 8 characters, two classes
        ("abcdefgh", False),  # 8 characters, one class
        ("Abc1!", False),  # too short whatever the mix
        ("abcdefghi", False),  # 9 characters, one class
    ],
)
def test_the_default_rule(password: str, accepted: bool) -> None:
    """It takes 10 characters, or 8 mixing two classes."""
    passwords = Passwords(CHEAP)
    if accepted:
        passwords.check_rule(password)
        return
    with pytest.raises(InvalidInput) as refused:
        passwords.check_rule(password)
    assert refused.value.code == "WEAK_PASSWORD"
    assert refused.value.field == "new_password"
    assert password not in refused.value.message


def test_the_rule_is_a_setting() -> None:
    """It applies the lengths and classes of the settings."""
    strict = Passwords(CHEAP.model_copy(update={"password_min_length": 16}))
    with pytest.raises(InvalidInput):
        strict.check_rule("abcdefghijklmno")
    strict.check_rule("abcdefghijklmnop")


def test_character_classes() -> None:
    """It counts lower case, upper case, digits and the rest."""
    assert [character_classes(p) for p in ("abc", "aB", "aB1", "aB1-", "한글")] == [1, 2, 3, 4, 1]


def test_hashes_are_argon2id_and_verify() -> None:
    """It stores Argon2id hashes, verifies them, and says no for an unknown account."""
    passwords = Passwords(CHEAP)
    digest = passwords.hash("correct horse")
    assert digest.startswith("$argon2id$")
    assert passwords.verify(digest, "correct horse")
    assert not passwords.verify(digest, "wrong horse")
    assert not passwords.verify(None, "correct horse")
    assert not passwords.verify("not a hash", "correct horse")
    assert Passwords(cheap_auth(argon2_time_cost=2)).needs_rehash(digest)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("argon2_memory_cost_kib", 8),
        ("argon2_memory_cost_kib", 19455),
        ("argon2_time_cost", 1),
        ("argon2_parallelism", 0),
    ],
)
def test_argon2_costs_below_the_owasp_floor_are_refused(field: str, value: int) -> None:
    """It refuses Argon2id costs under m = 19 MiB, t = 2, p = 1, naming the setting."""
    with pytest.raises(ValidationError) as refused:
        AuthSettings(**{field: value})
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


def test_the_owasp_floor_itself_is_accepted() -> None:
    """It takes m = 19456 KiB, t = 2, p = 1, and hashes with exactly those costs."""
    floor = AuthSettings(argon2_time_cost=2, argon2_memory_cost_kib=19456, argon2_parallelism=1)
    assert Passwords(floor).hash("correct horse").startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_a_settings_file_below_the_floor_is_a_configuration_error(tmp_path: Path) -> None:
    """It refuses haechi.toml with weak costs: one error naming each field, not a traceback."""
    (tmp_path / SETTINGS_FILE).write_text(
        "[auth]\nargon2_time_cost = 1\nargon2_memory_cost_kib = 8192\n", encoding="utf-8"
    )
    with pytest.raises(ConfigurationError) as refused:
        Settings.load(tmp_path)
    assert [problem.field for problem in refused.value.faults] == [
        "auth.argon2_time_cost",
        "auth.argon2_memory_cost_kib",
    ]
    assert "auth.argon2_time_cost" in refused.value.message


def test_an_environment_variable_below_the_floor_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It refuses HAECHI__AUTH__ARGON2_MEMORY_COST_KIB under the floor as well."""
    monkeypatch.setenv("HAECHI__AUTH__ARGON2_MEMORY_COST_KIB", "8")
    with pytest.raises(ConfigurationError) as refused:
        Settings.load(tmp_path)
    assert refused.value.field == "auth.argon2_memory_cost_kib"
