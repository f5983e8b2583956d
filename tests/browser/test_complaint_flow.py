"""A complaint in the browser: the form, the receipt, the staff answer, following it."""

from __future__ import annotations

from typing import Any

from haechi.config import MailSettings
from haechi.mail import SmtpNotifier
from haechi.mail.complaints import ResultQueue
from tests.access.staff_helpers import add_and_login
from tests.browser.conftest import Live, Smtp, axe_check, state_by_keyboard, tab_to, type_into

EMAIL = "jiho.lee@example.kr"
PETITIONER = {
    "name": "이지호",
    "contact": "010-4567-8901",
    "email": EMAIL,
    "company": "바다물산",
    "department": "영업팀",
    "title": "주임",
}
RESULT = "We have removed your address from the printed brochure list."


def test_a_complaint_from_intake_to_result_by_keyboard(page: Any, live: Live, smtp: Smtp) -> None:
    """It files the complaint, gives a receipt, and shows it answered once staff close it."""
    page.goto("/privacy/center?lang=en")
    tab_to(page, "a[href^='/privacy/complaints?']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy/complaints?lang=en")
    axe_check(page)
    for name, value in PETITIONER.items():
        type_into(page, f"#f-items\\.{name}", value)
    type_into(page, "#f-description", "I keep getting printed brochures after asking to stop.")
    tab_to(page, "#f-consent")
    page.keyboard.press("Space")
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#complaint-id")
    axe_check(page)
    complaint_id = page.inner_text("#complaint-id")
    status_token = page.inner_text("#status-token")

    engine = live.engine()
    try:
        secret, _ = add_and_login(engine, "officer-complaints", "privacy_officer")
        officer = engine.authenticate(secret)
        engine.assign_complaint(complaint_id, to="officer-complaints", actor=officer)
        engine.verify_complaint_contact(complaint_id, method="phone", actor=officer)
        queue = ResultQueue(engine)
        engine.close_complaint(
            complaint_id, result=RESULT, delivery="mail", actor=officer, queue=queue
        )
        assert queue.send(SmtpNotifier(MailSettings(smtp_host=smtp.host, smtp_port=smtp.port)))
    finally:
        engine.close()
    assert RESULT in smtp.mailbox.wait_for(EMAIL, complaint_id).get_body(("plain",)).get_content()

    tab_to(page, "main a[href^='/privacy/complaints/status']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy/complaints/status?lang=en")
    assert state_by_keyboard(page, "complaint_id", complaint_id, status_token) == "Answered"


def test_a_complaint_without_consent_or_text_is_marked_and_keeps_what_was_typed(
    page: Any, live: Live
) -> None:
    """It marks the missing petition and consent, and shows the name typed, nothing else."""
    page.goto("/privacy/complaints?lang=en")
    # The server's checks, not the browser's: as a browser that checks nothing would send it.
    page.evaluate("() => document.querySelector('main form').noValidate = true")
    page.fill("#f-items\\.name", "이지호")
    page.click("button[type=submit]")
    page.wait_for_selector("#errors")
    assert page.get_attribute("#f-description", "aria-invalid") == "true"
    assert page.get_attribute("#f-consent", "aria-invalid") == "true"
    assert page.input_value("#f-items\\.name") == "이지호"
    axe_check(page)
