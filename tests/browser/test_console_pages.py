"""Every console page in the browser, reached from the menu and used by keyboard alone.

axe-core finds no serious or critical violation on any of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Live, axe_check, tab_to, type_into
from tests.console.browser import Staff, log_in
from tests.rights.support import collect

EMAIL = "yuna.jeong@example.kr"
PERSON = {
    "name": "정유나",
    "contact": "010-5678-9012",
    "email": EMAIL,
    "company": "하늘상사",
    "department": "기획팀",
    "title": "사원",
}


@pytest.fixture(scope="module")
def officer(browser: Any, live: Live) -> Staff:
    engine = live.engine()
    try:
        collect(engine, PERSON)
    finally:
        engine.close()
    return log_in(browser, live, "officer-pages", "privacy_officer")


def _go(page: Any, href: str) -> None:
    """Follow the menu link to ``href`` by keyboard."""
    tab_to(page, f"header nav a[href='{href}']", limit=60)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{href}")
    page.wait_for_load_state()
    axe_check(page)


def _submit(page: Any, selector: str) -> None:
    """Press the button by keyboard and wait for the page it loads."""
    tab_to(page, selector, limit=120)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state()


def _enter(page: Any, field: str, text: str) -> None:
    """Type ``text`` into ``field`` and send its form with Enter."""
    type_into(page, field, text)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _filter(page: Any, choice: str, value: str) -> None:
    """Choose ``value`` in the filter ``choice`` and press Filter: htmx swaps the results."""
    tab_to(page, choice)
    page.keyboard.type(value)
    tab_to(page, "form.filters button", limit=120)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**={value}**")
    page.wait_for_load_state("networkidle")
    axe_check(page)


def test_every_console_page_by_keyboard_with_axe(page: Any, officer: Staff) -> None:
    """It reaches each page from the menu, does one thing on it, and axe passes everywhere."""
    officer.open(page, "/console?lang=en")
    page.wait_for_selector("h1:has-text('Dashboard')")
    axe_check(page)
    assert page.evaluate("() => document.querySelectorAll('.charts svg').length") == 3

    _go(page, "/console/requests")
    _filter(page, "#state", "verified")

    _go(page, "/console/complaints")
    _submit(page, "form.filters button")
    axe_check(page)

    _go(page, "/console/subjects")
    _enter(page, "#value", EMAIL)
    page.wait_for_selector("form[action$='/use']")
    assert PERSON["name"] not in page.content()
    axe_check(page)
    _enter(page, "#reason", "checking a call")
    page.wait_for_selector(f"td:has-text('{PERSON['name']}')")
    axe_check(page)

    _go(page, "/console/log")
    _filter(page, "#outcome", "denied")
    _submit(page, "form[action='/console/log/review'] button")
    page.wait_for_selector("h1:has-text('Monthly review')")
    axe_check(page)
    type_into(page, "#notes", "nothing unusual")
    _submit(page, "form[action='/console/log/review'][method=post] button")
    page.wait_for_selector("li:has-text('officer-pages')")
    page.goto("/console/log")
    _submit(page, "form[action='/console/log/verify'] button")
    page.wait_for_selector("text=The log verifies.")
    axe_check(page)

    page.goto("/console")
    _go(page, "/console/destructions")
    type_into(page, "#description", "2025 paper application forms")
    type_into(page, "#witness", "kim-auditor")
    _submit(page, "form[action='/console/destructions/paper'] button")
    page.wait_for_selector("td:has-text('2025 paper application forms')")
    axe_check(page)

    _go(page, "/console/staff")
    type_into(page, "#new-username", "handler-pages")
    tab_to(page, "#new-role")
    page.keyboard.type("handler")
    tab_to(page, "#new-service")
    page.keyboard.press("Space")
    type_into(page, "#new-reason", "joins the service desk")
    _submit(page, "form[action='/console/staff'] button")
    page.wait_for_selector("#one-time-password")
    axe_check(page)
    page.goto("/console/staff")
    tab_to(page, "#change-handler-pages", limit=200)
    page.keyboard.press("Enter")
    axe_check(page)

    _go(page, "/console/policy")
    assert page.locator("table tbody tr").count() >= 1
    axe_check(page)

    page.goto("/console")
    _go(page, "/console/incidents")
    type_into(page, "#title", "A lost laptop of the service desk")
    type_into(page, "#aware_at", "2026-11-30T09:00+09:00")
    type_into(page, "#from", "2026-11-01T00:00+09:00")
    type_into(page, "#to", "2026-11-30T00:00+09:00")
    type_into(page, "#actors", "officer-pages")
    _submit(page, "form[action='/console/incidents'] button")
    page.wait_for_selector("h1:has-text('Incident ')")
    axe_check(page)

    page.goto("/console/requests?state=lost")
    page.wait_for_selector("[data-error]")
    axe_check(page)
