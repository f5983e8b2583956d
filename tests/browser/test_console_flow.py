"""Staff in the browser: a person's access request answered, a complaint to its result.

The person's side goes through the public API (the privacy center's forms are tested
on their own); staff work in the console by keyboard alone, password and TOTP login.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.conftest import Live, Smtp, axe_check, screenshot, tab_to, type_into
from tests.console.browser import Staff, log_in
from tests.rights.support import code_of, collect

EMAIL = "jiwoo.han@example.kr"
PERSON = {
    "name": "한지우",
    "contact": "010-4567-8901",
    "email": EMAIL,
    "company": "바른상사",
    "department": "영업팀",
    "title": "주임",
}


@pytest.fixture(scope="module")
def officer(browser: Any, live: Live) -> Staff:
    return log_in(browser, live, "officer-console", "privacy_officer")


def _press(page: Any, selector: str) -> None:
    tab_to(page, selector, limit=80)
    page.keyboard.press("Enter")


def test_staff_answer_a_persons_access_request_by_keyboard(
    page: Any, live: Live, smtp: Smtp, officer: Staff
) -> None:
    """It lists the confirmed request; staff start and answer it; the export is mailed."""
    engine = live.engine()
    try:
        collect(engine, PERSON)
    finally:
        engine.close()
    api = f"{live.url}/api/v1"
    receipt = httpx.post(
        f"{api}/public/requests", json={"kind": "access", "email": EMAIL, "lang": "en"}, timeout=30
    )
    assert receipt.status_code == 202, receipt.text
    request_id = receipt.json()["request_id"]
    token = receipt.json()["status_token"]
    code = code_of(smtp.mailbox.wait_for(EMAIL, request_id))
    verified = httpx.post(
        f"{api}/public/requests/{request_id}/verify",
        json={"code": code},
        headers={"X-Status-Token": token},
        timeout=30,
    )
    assert verified.status_code == 200, verified.text

    officer.open(page, "/console?lang=en")
    page.wait_for_selector("h1:has-text('Dashboard')")
    assert page.locator(f"a[href='/console/requests/{request_id}']").count() == 1
    axe_check(page)
    screenshot(page, "dashboard")

    _press(page, "nav a[href='/console/requests']")
    page.wait_for_url("**/console/requests")
    axe_check(page)
    _press(page, f"a[href='/console/requests/{request_id}']")
    page.wait_for_selector("#request-state")
    assert page.inner_text("#request-state") == "verified"
    assert EMAIL not in page.content()
    axe_check(page)
    screenshot(page, "console-request")

    _press(page, f"form[action$='{request_id}/start'] button")
    page.wait_for_function(
        "() => document.querySelector('#request-state')?.textContent === 'in_progress'"
    )
    _press(page, f"form[action$='{request_id}/complete'] button")
    page.wait_for_function(
        "() => document.querySelector('#request-state')?.textContent === 'completed'"
    )
    axe_check(page)

    result = smtp.mailbox.wait_for(EMAIL, f"Your personal-information request {request_id}")
    names = [part.get_filename() for part in result.iter_attachments()]
    assert f"export-{request_id}.html" in names


def test_a_complaint_from_intake_to_its_result_by_keyboard(
    page: Any, live: Live, smtp: Smtp, officer: Staff
) -> None:
    """It takes a complaint, assigns it, replies, confirms the address and mails the result."""
    petitioner = {**PERSON, "email": "minseo.oh@example.kr", "name": "오민서"}
    intake = httpx.post(
        f"{live.url}/api/v1/public/complaints",
        json={
            "items": petitioner,
            "description": "탈퇴했는데 광고 메일이 옵니다.",
            "consent": {"granted": True, "method": "web-form"},
        },
        timeout=30,
    )
    assert intake.status_code == 202, intake.text
    complaint_id = intake.json()["complaint_id"]

    officer.open(page, "/console/complaints?lang=en")
    axe_check(page)
    _press(page, f"a[href='/console/complaints/{complaint_id}']")
    page.wait_for_selector("#complaint-state")
    assert page.inner_text("#complaint-state") == "received"
    axe_check(page)

    _press(page, "form[action$='/assign'] button")
    page.wait_for_function(
        "() => document.querySelector('#complaint-state')?.textContent === 'assigned'"
    )
    type_into(page, "#text", "확인하고 있습니다.")
    _press(page, "form[action$='/messages'] button")
    page.wait_for_selector("text=확인하고 있습니다.")
    tab_to(page, "#method", limit=80)
    page.keyboard.type("reply_mail")
    _press(page, "form[action$='/verify-contact'] button")
    page.wait_for_selector("td:has-text('reply_mail')")
    type_into(page, "#result", "광고 수신을 거부 처리했습니다.")
    _press(page, "form[action$='/close'] button")
    page.wait_for_function(
        "() => document.querySelector('#complaint-state')?.textContent === 'closed'"
    )
    axe_check(page)
    smtp.mailbox.wait_for(petitioner["email"], "광고 수신을 거부 처리했습니다.")
