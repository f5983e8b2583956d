"""The code courier: one-time codes leave apart from the replies, and a decoy leaves nothing.

``haechi.mail.requests.CodeCourier`` takes a request's code mail off the request (the
reply, and the next request on the connection, wait for nothing), and a request for
an address not on file gives it the same work, undone. Real SMTP (aiosmtpd).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from haechi import Engine
from haechi.config import MailSettings
from haechi.mail import SmtpNotifier
from haechi.mail.requests import CodeCourier
from haechi.storage.mail_tables import mail_outbox
from tests.rights.support import Inbox, code_of, collect, inbox

__all__ = ["inbox"]  # the SMTP server fixture


def _outbox(engine: Engine) -> int:
    with engine.database.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(mail_outbox)).scalar_one())


@pytest.fixture
def courier(engine: Engine, person: dict[str, str], inbox: tuple[Inbox, int]) -> CodeCourier:
    """A courier (not started) mailing to the test's SMTP server; the person on file."""
    collect(engine, person)
    return CodeCourier(
        engine, SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=inbox[1]))
    )


def test_a_code_goes_out_from_the_courier_and_a_decoy_leaves_nothing(
    engine: Engine, person: dict[str, str], inbox: tuple[Inbox, int], courier: CodeCourier
) -> None:
    """It mails the code of an address on file, and stores nothing for one not on file."""
    courier.start()
    try:
        known = engine.submit_request(kind="access", email=person["email"], source_ip="127.0.0.1")
        unknown = engine.submit_request(
            kind="access", email="nobody@example.kr", source_ip="127.0.0.2"
        )
        assert known.code_mail is not None
        assert unknown.code_mail is None
        queued = _outbox(engine)
        courier.post(unknown.code_mail, lang="ko")
        assert courier.drain()
        assert _outbox(engine) == queued  # the decoy's row was rolled back
        courier.post(known.code_mail, lang="ko")
        assert courier.drain()
    finally:
        courier.stop()
    [message] = inbox[0].to(person["email"])
    assert len(code_of(message)) == 6
    assert inbox[0].messages == [message]


def test_a_courier_not_started_delivers_in_the_callers_thread(
    engine: Engine, person: dict[str, str], inbox: tuple[Inbox, int], courier: CodeCourier
) -> None:
    """It delivers at once when no thread runs (an application never started)."""
    receipt = engine.submit_request(kind="access", email=person["email"], source_ip="127.0.0.1")
    courier.post(receipt.code_mail, lang="ko")
    assert len(inbox[0].to(person["email"])) == 1
