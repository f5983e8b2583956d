"""Shared by the console's browser tests: a staff member logged in through the login form.

The login is typed by keyboard, password and TOTP code (the live server trusts no
network), followed by the change of the one-time password; the session's cookies are
then given to each test's page, so every test needs one TOTP code, not one per page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyotp

from haechi.engine import SYSTEM
from tests.browser.conftest import Live, axe_check, tab_to, type_into

__all__ = ["NEW_PASSWORD", "Staff", "log_in"]

NEW_PASSWORD = "a long console passphrase"


@dataclass(frozen=True)
class Staff:
    """A logged-in staff member: its name and the cookies of its browser session."""

    username: str
    cookies: list[dict[str, Any]]

    def open(self, page: Any, path: str) -> None:
        """Give ``page`` this session and go to ``path``."""
        page.context.add_cookies(self.cookies)
        page.goto(path)


def log_in(browser: Any, live: Live, username: str, role: str, *purposes: str) -> Staff:
    """Create an account, log it in by keyboard with its TOTP code, change its password."""
    engine = live.engine()
    try:
        credentials = engine.add_staff(
            username=username, role=role, purposes=list(purposes), actor=SYSTEM
        )
    finally:
        engine.close()
    assert credentials.totp_uri is not None
    totp = pyotp.parse_uri(credentials.totp_uri)
    context = browser.new_context(base_url=live.url, locale="en-US")
    try:
        page = context.new_page()
        page.goto("/console")
        page.wait_for_url("**/console/login**")
        axe_check(page)
        type_into(page, "#username", username)
        type_into(page, "#password", credentials.password)
        type_into(page, "#totp", totp.now())
        page.keyboard.press("Enter")
        page.wait_for_url("**/console/password")
        axe_check(page)
        type_into(page, "#current_password", credentials.password)
        type_into(page, "#new_password", NEW_PASSWORD)
        type_into(page, "#repeat", NEW_PASSWORD)
        tab_to(page, "main button[type=submit]")
        page.keyboard.press("Enter")
        page.wait_for_selector("h1:has-text('Dashboard')")
        return Staff(username, context.cookies())
    finally:
        context.close()
