"""A person's access request in the browser: code by mail, status, staff answer, export."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.access.staff_helpers import add_and_login
from tests.browser.conftest import (
    Live,
    Smtp,
    axe_check,
    screenshot,
    state_by_keyboard,
    tab_to,
    type_into,
)
from tests.rights.support import code_of, collect

EMAIL = "seoyeon.park@example.kr"
PERSON = {
    "name": "박서연",
    "contact": "010-3456-7890",
    "email": EMAIL,
    "company": "누리상사",
    "department": "총무팀",
    "title": "과장",
}


def test_an_access_request_from_form_to_export_by_keyboard_alone(
    page: Any, live: Live, smtp: Smtp
) -> None:
    """It takes the request, mails the code, confirms it, shows the status, mails the export."""
    engine = live.engine()
    try:
        collect(engine, PERSON)
        officer, _ = add_and_login(engine, "officer-access", "privacy_officer")
    finally:
        engine.close()

    page.goto("/privacy/center?lang=en")
    axe_check(page)
    tab_to(page, "a[href^='/privacy/requests/access']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy/requests/access?lang=en")
    axe_check(page)
    type_into(page, "#f-contact", EMAIL)
    screenshot(page, "request")
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#request-id")
    assert EMAIL not in page.content()
    axe_check(page)
    request_id = page.inner_text("#request-id")
    status_token = page.inner_text("#status-token")

    code = code_of(smtp.mailbox.wait_for(EMAIL, request_id))
    type_into(page, "#f-code", code)
    page.keyboard.press("Enter")
    page.wait_for_selector("#state")
    assert page.inner_text("#state") == "Confirmed: waiting to be handled"
    axe_check(page)

    answer = httpx.post(
        f"{live.url}/api/v1/requests/{request_id}/complete",
        json={"delivery": "mail"},
        headers={"Authorization": f"Bearer {officer}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text

    page.goto("/privacy/status?lang=en")
    assert state_by_keyboard(page, "request_id", request_id, status_token) == "Completed"

    result = smtp.mailbox.wait_for(EMAIL, f"Your personal-information request {request_id}")
    files = {part.get_filename(): part for part in result.iter_attachments()}
    export = files[f"export-{request_id}.html"].get_content()
    # As the person opens the attachment: a page of its own, not under the site's CSP.
    page.goto("about:blank")
    page.set_content(export)
    assert PERSON["name"] in page.inner_text("body")
    axe_check(page)


def _send(page: Any, path: str, field: str, value: str) -> None:
    page.goto(path)
    page.fill(field, value)
    page.click("button[type=submit]")


def test_a_wrong_code_is_marked_next_to_its_field(page: Any, live: Live) -> None:
    """It keeps the person on the code page with the error beside the code field."""
    _send(page, "/privacy/requests/access?lang=en", "#f-contact", "nobody.here@example.kr")
    page.wait_for_selector("#request-id")
    page.fill("#f-code", "000000")
    page.click("form[action^='/privacy/verify?'] button")
    page.wait_for_selector("#f-code-error")
    assert page.get_attribute("#f-code", "aria-invalid") == "true"
    assert re.search(r"not right", page.inner_text("#f-code-error"))
    axe_check(page)


def test_a_form_with_errors_names_them_and_links_to_the_fields(page: Any, live: Live) -> None:
    """It lists what to fix at the top, each linked to its field, and marks the field."""
    _send(page, "/privacy/requests/withdrawal?lang=en", "#f-contact", "not an address")
    page.wait_for_selector("#errors")
    assert page.get_attribute("#f-contact", "aria-invalid") == "true"
    assert page.locator("#f-purposes-error").count() == 1
    assert "not an address" in page.input_value("#f-contact")
    assert page.evaluate("() => document.activeElement.id") == "errors"
    axe_check(page)
