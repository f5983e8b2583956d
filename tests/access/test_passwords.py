"""The password rule and the Argon2id hasher, configured by settings (no database)."""

from __future__ import annotations

import pytest

from haechi import InvalidInput
from haechi.access.passwords import Passwords, character_classes
from haechi.config import AuthSettings

CHEAP = AuthSettings(argon2_time_cost=1, argon2_memory_cost_kib=8, argon2_parallelism=1)


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
    assert Passwords(
        AuthSettings(argon2_time_cost=2, argon2_memory_cost_kib=8, argon2_parallelism=1)
    ).needs_rehash(digest)
