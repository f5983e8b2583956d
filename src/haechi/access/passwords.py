"""Staff passwords: the Argon2id hasher and the password rule, both from settings.

Only the Argon2id hash is stored. One-time passwords (new accounts, resets) are random
and must be changed at the first login. Messages name the rule, never the password.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from haechi.config import AuthSettings
from haechi.errors import InvalidInput

__all__ = ["Passwords", "character_classes", "one_time_password"]


def character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters ``password`` mixes."""
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            # Symbols, spaces, and letters without case (Hangul, for one).
            any(not (c.islower() or c.isupper() or c.isdigit()) for c in password),
        )
    )


def one_time_password() -> str:
    """A random one-time password (20 URL-safe characters, 120 bits)."""
    return secrets.token_urlsafe(15)


class Passwords:
    """Hashes, verifies and checks staff passwords with the installation's settings."""

    def __init__(self, auth: AuthSettings):
        self._auth = auth
        self._hasher = PasswordHasher(
            time_cost=auth.argon2_time_cost,
            memory_cost=auth.argon2_memory_cost_kib,
            parallelism=auth.argon2_parallelism,
            type=Type.ID,
        )
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        """The Argon2id hash of ``password``."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash`` (None: spend the time, say no)."""
        if password_hash is None:
            # An unknown username costs as much time as a wrong password.
            if self._decoy is None:
                self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
            password_hash = self._decoy
            matches = False
        else:
            matches = True
        try:
            return self._hasher.verify(password_hash, password) and matches
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether ``password_hash`` was made with other parameters than the settings'."""
        return self._hasher.check_needs_rehash(password_hash)

    def check_rule(self, password: str, *, field: str = "new_password") -> None:
        """Refuse a password that breaks the rule of the settings."""
        auth = self._auth
        if len(password) > 1024:
            raise InvalidInput("the password is longer than 1024 characters", field=field)
        if len(password) >= auth.password_min_length:
            return
        if (
            len(password) >= auth.password_short_min_length
            and character_classes(password) >= auth.password_short_min_classes
        ):
            return
        raise InvalidInput(
            f"a password needs at least {auth.password_min_length} characters, or "
            f"{auth.password_short_min_length} mixing {auth.password_short_min_classes} of "
            "lower case, upper case, digits and other characters",
            field=field,
            code="WEAK_PASSWORD",
        )
