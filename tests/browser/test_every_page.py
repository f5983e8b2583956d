"""Every public page: axe finds nothing serious, and its navigation works by keyboard."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Live, axe_check, tab_to

PAGES = [
    "/privacy",
    "/privacy/versions",
    "/privacy/center",
    "/privacy/requests",
    "/privacy/requests/access",
    "/privacy/requests/correction",
    "/privacy/requests/deletion",
    "/privacy/requests/suspension",
    "/privacy/requests/withdrawal",
    "/privacy/requests/representative",
    "/privacy/status",
    "/privacy/complaints",
    "/privacy/complaints/status",
    "/privacy/requests/nothing",
    "/privacy/optout/AAAA",
]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_public_page_passes_axe_in_both_languages(page: Any, live: Live, lang: str) -> None:
    """It finds no serious or critical violation on any page, in Korean and in English."""
    for path in PAGES:
        page.goto(f"{path}?lang={lang}")
        assert page.evaluate("() => document.documentElement.lang") == lang
        assert page.locator("h1").count() == 1, path
        axe_check(page)


def test_the_center_navigation_reaches_every_area_by_keyboard(page: Any, live: Live) -> None:
    """From the center, Tab and Enter reach each area of the navigation, then the center again."""
    for target in ("/privacy/requests", "/privacy/status", "/privacy/complaints", "/privacy"):
        page.goto("/privacy/center?lang=en")
        tab_to(page, f"nav a[href='{target}?lang=en']")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{target}?lang=en")
        assert page.locator("h1").count() == 1
    tab_to(page, "a[href^='/privacy/versions']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy/versions?lang=en")
    tab_to(page, "a[href^='/privacy/center']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy/center?lang=en")
