"""A delegate's request with a power of attorney, in the browser, verified by staff."""

from __future__ import annotations

from typing import Any

from haechi.engine import SYSTEM
from tests.browser.conftest import Live, axe_check, state_by_keyboard, tab_to, type_into

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_a_delegate_uploads_a_power_of_attorney_and_staff_verify_it(page: Any, live: Live) -> None:
    """It takes the request with its sealed proof; staff verify it; the delegate follows it."""
    page.goto("/privacy/requests?lang=en")
    tab_to(page, "main a[href^='/privacy/requests/representative']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy/requests/representative?lang=en")
    axe_check(page)
    tab_to(page, "#f-kind")
    page.keyboard.type("See")  # picks "See my personal information"
    type_into(page, "#f-contact", "grandma.yoon@example.kr")
    type_into(page, "#f-representative\\.name", "윤하준")
    type_into(page, "#f-representative\\.relation", "grandson")
    type_into(page, "#f-reply_to", "hajun.yoon@example.kr")
    # A file is picked in the system's dialog, which no page can drive: set it directly.
    page.set_input_files(
        "#f-proof", files=[{"name": "poa.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#request-id")
    axe_check(page)
    request_id = page.inner_text("#request-id")
    status_token = page.inner_text("#status-token")

    engine = live.engine()
    try:
        shown = engine.request(request_id, actor=SYSTEM)
        assert sorted(d["kind"] for d in shown.documents) == [
            "contact",
            "power_of_attorney",
            "representative",
        ]
        assert shown.requester == "delegate"
        engine.verify_request(request_id, method="id_document", actor=SYSTEM)
    finally:
        engine.close()

    tab_to(page, "main a[href^='/privacy/status']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/privacy/status?lang=en")
    state = state_by_keyboard(page, "request_id", request_id, status_token)
    assert state == "Confirmed: waiting to be handled"
