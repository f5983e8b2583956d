"""Monitors: each rule fires on a crafted stream, once; alerts are mailed and reviewed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from haechi import Engine
from haechi.audit.events import record_event
from haechi.config import MailSettings
from haechi.engine import SYSTEM
from haechi.errors import InvalidInput
from haechi.mail import SmtpNotifier, mail_alerts
from tests.cli.test_cli import free_port
from tests.conftest import Database, FakeClock

# 2026-03-02 is a Monday; 01:00 UTC is 10:00 in Seoul (working hours).
MONDAY_MORNING = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def log(engine: Engine, clock: FakeClock, count: int, **event: object) -> None:
    with engine.transaction() as connection:
        for index in range(count):
            values: dict[str, object] = {
                "actor": "kim",
                "actor_kind": "staff",
                "action": "view",
                "subject_id": f"subject-{index}",
                "purpose": "service",
                "items": ["name"],
                **event,
            }
            record_event(connection, now=clock.now, **values)
            clock.advance(seconds=1)


@pytest.fixture
def monday(clock: FakeClock) -> FakeClock:
    clock.now = MONDAY_MORNING
    return clock


def rules(alerts: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(alert.rule for alert in alerts)


def test_quiet_working_day_raises_nothing(engine: Engine, monday: FakeClock) -> None:
    """It raises no alert for ordinary reads in working hours."""
    log(engine, monday, 20)
    assert engine.run_monitors() == []


def test_mass_access(engine: Engine, monday: FakeClock) -> None:
    """It fires when one actor reads more distinct subjects in an hour than allowed, once."""
    engine.settings.monitor.distinct_subjects_per_hour = 30
    log(engine, monday, 31)
    [alert] = engine.run_monitors()
    assert (alert.rule, alert.actor) == ("mass_access", "kim")
    assert alert.detail["distinct_subjects"] == 31
    log(engine, monday, 5)
    assert engine.run_monitors() == []  # the same window is not alerted twice


def test_downloads_always_alert_and_must_have_a_reason(
    engine: Engine, monday: FakeClock, person: dict[str, str]
) -> None:
    """It refuses a download without a reason, and alerts on every download."""
    from haechi import Actor, ConsentEvidence, InvalidInput

    subject = engine.collect(
        purpose="service", items=person, consent=ConsentEvidence(True, "web-form"), actor=SYSTEM
    ).subject_id
    crm = Actor(name="crm", kind="token", purposes=frozenset({"service"}))
    with pytest.raises(InvalidInput) as caught:
        engine.use(actor=crm, subject_id=subject, purpose="service", download=True)
    assert caught.value.field == "reason"
    engine.use(actor=crm, subject_id=subject, purpose="service", download=True, reason="ticket 42")
    [alert] = engine.run_monitors()
    assert alert.rule == "download"
    assert alert.detail["has_reason"] is True


def test_off_hours(engine: Engine, monday: FakeClock) -> None:
    """It fires on reads at 23:00 Seoul time."""
    monday.now = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 23:00 KST
    log(engine, monday, 3)
    [alert] = engine.run_monitors()
    assert alert.rule == "off_hours"
    assert alert.detail["events"] == 3


def test_weekend(engine: Engine, monday: FakeClock) -> None:
    """It fires on reads on a Saturday."""
    monday.now = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)  # Saturday 11:00 KST
    log(engine, monday, 1)
    assert rules(engine.run_monitors()) == ["off_hours"]


def test_denied_burst(engine: Engine, monday: FakeClock) -> None:
    """It fires on many refused decisions by one actor within minutes."""
    log(engine, monday, 10, outcome="denied", code="NO_GRANT")
    [alert] = engine.run_monitors()
    assert alert.rule == "denied_burst"
    assert alert.detail == {"count": 10, "limit": 10}


def test_spread_out_denials_do_not_alert(engine: Engine, monday: FakeClock) -> None:
    """It stays quiet when the refusals are spread over hours."""
    for _ in range(10):
        log(engine, monday, 1, outcome="denied", code="NO_GRANT")
        monday.advance(minutes=15)
    assert engine.run_monitors() == []


def test_failed_logins(engine: Engine, monday: FakeClock) -> None:
    """It fires on repeated failed logins for one account."""
    log(engine, monday, 5, action="login", outcome="denied", code="BAD_PASSWORD", subject_id=None)
    assert rules(engine.run_monitors()) == ["failed_logins"]


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_alerts_are_mailed_to_the_privacy_officer_once(
    engine: Engine, monday: FakeClock, smtp: tuple[Inbox, int]
) -> None:
    """It mails new alerts over real SMTP to the policy's privacy officer, without values."""
    inbox, port = smtp
    log(engine, monday, 10, outcome="denied", code="NO_GRANT")
    engine.run_monitors()
    notifier = SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=port))
    assert mail_alerts(engine, notifier) == 1
    assert mail_alerts(engine, notifier) == 0
    [message] = inbox.messages
    assert message["To"] == engine.policy.policy.privacy_officer.email
    assert "denied_burst" in message.get_payload()
    assert engine.alerts()[0].mailed_at is not None


def test_monthly_review_lists_actors_and_records_the_review(
    engine: Engine, monday: FakeClock
) -> None:
    """It lists the month's accesses per actor with alerts, and records the review."""
    log(engine, monday, 4)
    log(engine, monday, 10, actor="lee", outcome="denied")
    engine.run_monitors()
    review = engine.review("2026-03")
    by_actor = {activity.actor: activity for activity in review.actors}
    assert by_actor["kim"].reads == 4
    assert by_actor["kim"].subjects == 4
    assert by_actor["lee"].denied == 10
    assert by_actor["lee"].alerts == 1
    assert review.reviews == []
    engine.record_review("2026-03", reviewer="officer", notes="denials explained")
    assert engine.review("2026-03").reviews[0]["reviewer"] == "officer"
    assert engine.events(limit=1)[0].action == "log_review"
    assert engine.review("2026-02").actors == []


def test_an_event_committed_late_is_still_monitored(
    engine: Engine, database: Database, monday: FakeClock
) -> None:
    """It alerts on a download whose transaction committed after later events were seen."""
    if database.backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: ids always commit in order")
    slow = database.engine.connect()
    transaction = slow.begin()
    record_event(
        slow,
        now=monday.now,
        actor="kim",
        actor_kind="staff",
        action="download",
        subject_id="subject-1",
        purpose="service",
        reason="ticket 9",
    )
    log(engine, monday, 1)
    assert engine.run_monitors() == []
    transaction.commit()
    slow.close()
    assert rules(engine.run_monitors()) == ["download"]


@pytest.mark.parametrize("month", ["2026-03\n", "２０２６-03", "2026-3"])
def test_a_review_month_is_exactly_yyyy_mm(engine: Engine, month: str) -> None:
    """It refuses a month with a trailing newline, other digits or one digit."""
    with pytest.raises(InvalidInput):
        engine.record_review(month, reviewer="officer")
    with pytest.raises(InvalidInput):
        engine.review(month)
    assert engine.events(limit=1) == []
