"""Breach notices: received by a real SMTP server, resumable, each send recorded; the deadline."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest

from haechi import Engine
from haechi.config import MailSettings
from haechi.errors import ConfigurationError, Conflict
from haechi.jobs import BackgroundJobs
from haechi.mail import SmtpNotifier
from haechi.mail.incidents import mail_incident_notices
from tests.conftest import FakeClock
from tests.incidents.support import OFFICER, craft, open_over
from tests.rights.support import Inbox, inbox, text_of

__all__ = ["inbox"]


class FailingAfter:
    """Delivers through SMTP ``good`` times, then the server is gone."""

    def __init__(self, notifier: SmtpNotifier, good: int) -> None:
        self.notifier = notifier
        self.good = good

    def send(self, message: EmailMessage) -> None:
        if self.good == 0:
            raise ConnectionRefusedError("gone")
        self.good -= 1
        self.notifier.send(message)


def _smtp(port: int) -> SmtpNotifier:
    return SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=port))


def test_each_person_read_receives_one_notice(
    engine: Engine, clock: FakeClock, inbox: tuple[Inbox, int]
) -> None:
    """Each affected person gets one bilingual notice naming their items and the officer."""
    received, port = inbox
    crafted = craft(engine, clock)
    incident = open_over(engine, crafted, clock)
    engine.contain(incident.id, kind="keys_rotated", note="rotated master key", actor=OFFICER)
    tally = mail_incident_notices(engine, _smtp(port), incident.id, actor=OFFICER)
    assert (tally.sent, tally.unreachable, tally.left) == (2, 0, 0)
    assert sorted(message["To"] for message in received.messages) == [
        "person0@example.kr",
        "person1@example.kr",
    ]
    body = text_of(received.to("person1@example.kr")[0])
    assert "privacy@example.com" in body
    assert "Items concerned: " in body
    assert "유출된 항목: " in body
    assert "Encryption keys have been replaced." in body
    assert "rotated master key" not in body
    shown = engine.incidents(actor=OFFICER)[0]
    assert shown.notices == {"pending": 0, "sent": 2, "unreachable": 0}


def test_a_run_that_fails_resumes_and_marks_nothing_unsent(
    engine: Engine, clock: FakeClock, inbox: tuple[Inbox, int]
) -> None:
    """A server lost after one send leaves one sent, one pending; the next run sends the rest."""
    received, port = inbox
    crafted = craft(engine, clock)
    incident = open_over(engine, crafted, clock)
    with pytest.raises(ConfigurationError):
        mail_incident_notices(engine, FailingAfter(_smtp(port), 1), incident.id, actor=OFFICER)
    assert len(received.messages) == 1
    assert engine.incidents(actor=OFFICER)[0].notices["sent"] == 1
    tally = mail_incident_notices(engine, _smtp(port), incident.id, actor=OFFICER)
    assert (tally.sent, tally.left) == (1, 0)
    assert len({message["To"] for message in received.messages}) == 2
    assert len(received.messages) == 2


def test_two_runs_never_send_at_once(engine: Engine, clock: FakeClock) -> None:
    """While one run holds the lease another is refused; a dead run's lease runs out."""
    crafted = craft(engine, clock)
    incident = open_over(engine, crafted, clock)
    engine.begin_notices(incident.id, actor=OFFICER)
    with pytest.raises(Conflict):
        engine.begin_notices(incident.id, actor=OFFICER)
    clock.advance(minutes=3)
    assert len(engine.begin_notices(incident.id, actor=OFFICER).pending) == 2


def test_the_officer_is_alerted_once_a_day_before_the_deadline(
    engine: Engine, clock: FakeClock
) -> None:
    """Under 24 hours left with notices unsent raises one alert, however often it is checked."""
    crafted = craft(engine, clock)
    incident = open_over(engine, crafted, clock)
    assert engine.check_incident_deadlines() == 0
    clock.advance(hours=47)
    assert engine.check_incident_deadlines() == 0
    clock.advance(hours=2)
    jobs = BackgroundJobs.for_engine(engine)
    next(job for job in jobs.jobs if job.name == "monitors").run()
    assert engine.check_incident_deadlines() == 0
    raised = [alert for alert in engine.alerts() if alert.rule == "incident_deadline"]
    assert len(raised) == 1
    assert raised[0].detail["incident_id"] == incident.id
    assert raised[0].detail["pending"] == 2
    assert raised[0].window_end == incident.deadline


def test_no_alert_when_every_notice_is_sent(
    engine: Engine, clock: FakeClock, inbox: tuple[Inbox, int]
) -> None:
    """An incident whose people were all told raises no deadline alert."""
    crafted = craft(engine, clock)
    incident = open_over(engine, crafted, clock)
    mail_incident_notices(engine, _smtp(inbox[1]), incident.id, actor=OFFICER)
    clock.advance(hours=71)
    assert engine.check_incident_deadlines() == 0
    assert incident.deadline - clock() == timedelta(hours=1)
