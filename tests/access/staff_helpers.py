"""Helpers shared by the staff tests: accounts logged in through the real login."""

from __future__ import annotations

from haechi import Engine
from haechi.access.staff import NewCredentials
from haechi.engine import SYSTEM

NEW_PASSWORD = "correct horse battery"
TRUSTED = "127.0.0.1"
REMOTE = "203.0.113.9"


def add_and_login(
    engine: Engine, username: str, role: str, *purposes: str
) -> tuple[str, NewCredentials]:
    """Create an account, log in from a trusted network, change the one-time password."""
    credentials = engine.add_staff(
        username=username, role=role, purposes=list(purposes), actor=SYSTEM
    )
    session = engine.login(username=username, password=credentials.password, source_ip=TRUSTED)
    assert session.secret is not None
    actor = engine.authenticate(session.secret, password_change=True)
    engine.change_password(
        actor=actor,
        current_password=credentials.password,
        new_password=NEW_PASSWORD,
        session_secret=session.secret,
    )
    return session.secret, credentials
