"""Deadlines: due in the policy's days, postponed once within them, alerts raised once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from haechi import Engine
from haechi.config import MailSettings
from haechi.engine import SYSTEM
from haechi.errors import Conflict
from haechi.jobs import BackgroundJobs
from haechi.mail import SmtpNotifier, mail_alerts
from tests.conftest import FakeClock
from tests.rights.support import Inbox, collect, inbox, text_of

__all__ = ["inbox"]

EMAIL = "minji.kim@example.kr"


def verified_request(engine: Engine, person: dict[str, str]) -> str:
    """A web access request, verified with the code it was issued."""
    collect(engine, person)
    receipt = engine.submit_request(kind="access", email=EMAIL, source_ip="198.51.100.7")
    assert receipt.code_mail is not None
    engine.verify_request_code(
        receipt.request_id,
        status_token=receipt.status_token,
        code=receipt.code_mail.code,
        source_ip="198.51.100.7",
    )
    return receipt.request_id


def test_due_in_the_policys_response_days(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It sets the due date to receipt plus the policy's 10 days."""
    request_id = verified_request(engine, person)
    shown = engine.request(request_id, actor=SYSTEM)
    assert engine.policy.policy.rights.response_days == 10
    assert shown.due_at == clock.now + timedelta(days=10)
    assert shown.original_due_at == shown.due_at


def test_postponed_once_and_only_within_the_original_deadline(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It postpones once with a reason and a new date; not twice, not after the deadline."""
    request_id = verified_request(engine, person)
    received = clock.now
    clock.advance(days=9)
    engine.postpone_request(
        request_id, reason="LARGE_VOLUME", due_at=received + timedelta(days=20), actor=SYSTEM
    )
    shown = engine.request(request_id, actor=SYSTEM)
    assert shown.state == "postponed"
    assert shown.due_at == received + timedelta(days=20)
    with pytest.raises(Conflict) as twice:
        engine.postpone_request(
            request_id, reason="LARGE_VOLUME", due_at=received + timedelta(days=25), actor=SYSTEM
        )
    assert twice.value.code == "ALREADY_POSTPONED"


def test_postponing_after_the_original_deadline_is_refused(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It refuses a postponement once the original due date has passed."""
    request_id = verified_request(engine, person)
    received = clock.now
    clock.advance(days=11)
    with pytest.raises(Conflict) as late:
        engine.postpone_request(
            request_id, reason="LARGE_VOLUME", due_at=received + timedelta(days=20), actor=SYSTEM
        )
    assert late.value.code == "DEADLINE_PASSED"


def test_due_soon_and_overdue_alert_once_each_and_are_mailed(
    engine: Engine, person: dict[str, str], clock: FakeClock, inbox: tuple[Inbox, int]
) -> None:
    """It raises one alert two days before the due date and one when overdue, mailed."""
    mailbox, port = inbox
    verified_request(engine, person)
    assert engine.check_request_deadlines() == 0
    clock.advance(days=8, hours=1)
    assert engine.check_request_deadlines() == 1
    assert engine.check_request_deadlines() == 0
    clock.advance(days=2)
    jobs = {job.name: job for job in BackgroundJobs.for_engine(engine).jobs}
    jobs["requests"].run()
    assert engine.check_request_deadlines() == 0
    assert [alert.rule for alert in engine.alerts()] == ["request_overdue", "request_due_soon"]
    notifier = SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=port))
    assert mail_alerts(engine, notifier) == 2
    [mailed] = mailbox.to(engine.policy.policy.privacy_officer.email)
    assert "request_overdue" in text_of(mailed)
    assert EMAIL not in text_of(mailed)
