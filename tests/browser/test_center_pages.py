"""The public pages in the browser: accessible, usable by keyboard, nothing from elsewhere."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Live, axe_check, screenshot


def test_the_policy_page_passes_axe_and_is_screenshot(page: Any) -> None:
    """It shows the policy in force with no serious axe violation, and saves its picture."""
    page.goto("/privacy?lang=en")
    assert page.locator("h1").count() == 1
    axe_check(page)
    assert screenshot(page, "public-policy").stat().st_size > 0


def test_the_front_page_is_reached_by_keyboard_from_the_policy(page: Any, live: Live) -> None:
    """From the policy, Tab reaches the center's link; its skip link jumps to the content."""
    page.goto("/privacy?lang=en")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent") == "Privacy center":
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy/center?lang=en")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.className")
    assert focused == "skip"
    assert page.locator(".skip").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    axe_check(page)


def test_static_files_are_long_cached_and_pages_forbid_other_hosts(page: Any, live: Live) -> None:
    """It serves htmx from the app with a year of caching; the page's CSP names only itself."""
    response = page.goto("/privacy/center")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'")
    assert "unsafe-inline" not in csp
    assert page.evaluate("() => typeof window.htmx") == "object"
    script = page.request.get(page.locator("script").first.get_attribute("src"))
    assert script.status == 200
    assert "max-age=31536000" in script.headers["cache-control"]
