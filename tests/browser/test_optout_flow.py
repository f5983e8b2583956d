"""A marketing opt-out from a mailed link: GET changes nothing, the button withdraws."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx

from haechi.engine import SYSTEM
from tests.browser.conftest import Live, Smtp, axe_check, tab_to
from tests.rights.support import collect, refused_use

EMAIL = "hana.choi@example.kr"
PERSON = {
    "name": "최하나",
    "contact": "010-5678-9012",
    "email": EMAIL,
    "company": "하늘기획",
    "department": "마케팅팀",
    "title": "팀장",
}


def _mailing(smtp: Smtp, url: str, header: str) -> None:
    """The company's newsletter, sent as its mailer would, with RFC 8058 headers."""
    message = EmailMessage()
    message["From"] = "news@demosoft.example"
    message["To"] = EMAIL
    message["Subject"] = "DemoSoft news"
    message["List-Unsubscribe"] = f"<{url}>"
    message["List-Unsubscribe-Post"] = header
    message.set_content(f"This month's news.\n\nStop these mails: {url}\n")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as client:
        client.send_message(message)


def test_a_mailed_opt_out_link_withdraws_marketing_consent(
    page: Any, live: Live, smtp: Smtp
) -> None:
    """It shows a button on GET (consent intact), withdraws on POST, and a repeat is harmless."""
    engine = live.engine()
    try:
        subject_id = collect(engine, PERSON, "marketing")
        _, secret = engine.create_token(name="newsletter", purposes=["marketing"])
    finally:
        engine.close()
    minted = httpx.post(
        f"{live.url}/api/v1/optout-links",
        json={"subject_id": subject_id, "purpose": "marketing"},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert minted.status_code == 201, minted.text
    link = minted.json()
    assert subject_id not in link["path"]
    _mailing(smtp, live.url + link["path"], link["list_unsubscribe_post"])

    mail = smtp.mailbox.wait_for(EMAIL, "Stop these mails")
    url = re.search(r"<([^>]+)>", str(mail["List-Unsubscribe"])).group(1)  # type: ignore[union-attr]
    page.goto(url + "?lang=en")
    axe_check(page)
    engine = live.engine()
    try:
        # A fetch of the link (a mail scanner's) changes nothing.
        engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name"])
    finally:
        engine.close()
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#done")
    assert "Marketing and advertising" in page.inner_text("#done")
    axe_check(page)

    # The mail client's one click (RFC 8058): no cookie, no page, the same answer.
    again = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=30)
    assert again.status_code == 200
    engine = live.engine()
    try:
        assert refused_use(engine, subject_id, "marketing") == "NO_CONSENT"
        actions = [
            (event.action, event.outcome, event.code)
            for event in engine.events(subject_id=subject_id, limit=20)
        ]
        assert ("withdraw_consent", "allowed", None) in actions
        assert ("withdraw_consent", "allowed", "ALREADY_WITHDRAWN") in actions
    finally:
        engine.close()


def test_a_forged_link_is_refused_and_changes_nothing(page: Any, live: Live) -> None:
    """It answers a link not minted here with a page saying so."""
    response = page.goto("/privacy/optout/" + "A" * 120 + "?lang=en")
    assert response is not None
    assert response.status == 422
    assert page.locator("h1").inner_text() == "This link does not work"
    axe_check(page)
