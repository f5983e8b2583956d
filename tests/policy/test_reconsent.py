"""Fresh consent, and narrowing that needs none.

Subjects whose terms widen are mailed at announcement; from the effective date the new
terms wait for their consent while the old ones stay usable; narrowing applies without
asking, and the sweep follows it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from haechi import Engine
from haechi.config import MailSettings
from haechi.engine import SYSTEM
from haechi.errors import AccessDenied
from haechi.mail import SmtpNotifier
from haechi.mail.policy_notice import NOTICE_ACTOR, mail_policy_notices
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.tables import audit_events, items
from tests.conftest import Database, FakeClock
from tests.policy.versions_helpers import consent, publish, variant


class Inbox:
    """What a real SMTP server (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = envelope.content  # type: ignore[attr-defined]
        message = message_from_bytes(content, policy=email_policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, MailSettings]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            inbox,
            MailSettings(smtp_host="127.0.0.1", smtp_port=port, sender="privacy@example.com"),
        )
    finally:
        controller.stop()


def _collect(engine: Engine, person: dict[str, str], *, granted: bool = True) -> tuple[str, str]:
    result = engine.collect(
        purpose="marketing", items=person, consent=consent(granted), actor=SYSTEM
    )
    return result.subject_id, result.collection_id


def test_widened_terms_are_mailed_then_wait_for_fresh_consent(
    engine: Engine,
    database: Database,
    clock: FakeClock,
    person: dict[str, str],
    smtp: tuple[Inbox, MailSettings],
) -> None:
    """It mails the subject what changes, refuses the new item until consent, keeps the old."""
    inbox, mail = smtp
    publish(engine, parse_policy(demo_policy_text()))
    subject_id, collection_id = _collect(engine, person)
    other = dict(person, email="other.person@example.kr", contact="010-3333-4444")
    engine.collect(purpose="service", items=other, consent=consent(), actor=SYSTEM)
    version = publish(engine, variant("v2", add_item=True), days=7)

    sent = mail_policy_notices(engine, SmtpNotifier(mail), version.n)
    assert (sent.mailed, sent.unreachable) == (1, 0)
    [(recipients, message)] = inbox.messages
    assert recipients == [person["email"]]  # the service subject's terms did not change
    body = message.get_content()
    assert "관심 분야" in body
    assert "Interests" in body
    assert "version 2" in body
    assert person["name"] not in body
    assert person["contact"] not in body
    with database.engine.connect() as connection:
        reads = connection.execute(
            select(audit_events.c.action, audit_events.c.reason).where(
                audit_events.c.actor == NOTICE_ACTOR
            )
        ).all()
    assert [(r.action, r.reason) for r in reads] == [("view", "policy change notice, version 2")]

    clock.advance(days=7)
    assert engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name"]) == {
        "name": person["name"]
    }
    covered = engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing")
    assert covered == person  # all items asked: those the old consent covered
    with pytest.raises(AccessDenied) as refused:
        engine.use(
            actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name", "interests"]
        )
    assert refused.value.code == "NO_CONSENT"
    assert engine.events(limit=1)[0].code == "NO_CONSENT"

    renewed = engine.renew_consent(collection_id, consent=consent(), actor=SYSTEM)
    assert renewed.policy_version == version.id
    assert engine.use(
        actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name", "interests"]
    ) == {"name": person["name"]}


def test_a_move_to_consent_as_the_basis_stops_use_until_consent(
    engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It refuses every item once consent becomes the basis, until fresh consent is given."""
    publish(engine, variant("v1", basis="contract"))
    subject_id, collection_id = _collect(engine, person, granted=False)
    publish(engine, parse_policy(demo_policy_text()), days=7)
    assert [t.collection_id for t in engine.reconsent_targets(2)] == [collection_id]
    assert engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name"])
    clock.advance(days=7)
    with pytest.raises(AccessDenied) as refused:
        engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name"])
    assert refused.value.code == "NO_CONSENT"
    engine.renew_consent(collection_id, consent=consent(), actor=SYSTEM)
    assert engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name"])


def test_narrowing_moves_expiries_drops_items_and_the_sweep_destroys_on_time(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It asks nobody; at the sweep, expiry moves to the new period and a dropped item goes."""
    publish(engine, parse_policy(demo_policy_text()))
    collected = clock.now
    subject_id, collection_id = _collect(engine, person)
    publish(engine, variant("v2", retention="P3M", drop_item="title"), days=7)
    assert engine.reconsent_targets(2) == []
    clock.advance(days=8)
    engine.sweep()
    info = engine.collection(collection_id, actor=SYSTEM)
    expected = collected.replace(month=collected.month + 3)
    assert (info.expires_at, info.due_at) == (expected, expected)
    kept = {name: value for name, value in person.items() if name != "title"}
    assert engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing") == kept
    with database.engine.connect() as connection:
        names = connection.execute(
            select(items.c.name).where(items.c.collection_id == collection_id)
        ).scalars()
        assert sorted(names) == sorted(kept)
    clock.now = expected
    engine.sweep()
    assert engine.collection(collection_id, actor=SYSTEM).state.value == "destroyed"
    with pytest.raises(AccessDenied):
        engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing")


def test_a_longer_retention_keeps_the_old_expiry_until_consent(
    engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It leaves the consented expiry in place; fresh consent restarts it under the new terms."""
    publish(engine, parse_policy(demo_policy_text()))
    _, collection_id = _collect(engine, person)
    before = engine.collection(collection_id, actor=SYSTEM).expires_at
    publish(engine, variant("v2", retention="P1Y"), days=7)
    assert [t.change.retention for t in engine.reconsent_targets(2)] == [("P6M", "P1Y")]
    clock.advance(days=7)
    engine.sweep()
    assert engine.collection(collection_id, actor=SYSTEM).expires_at == before
    renewed = engine.renew_consent(collection_id, consent=consent(), actor=SYSTEM)
    assert renewed.expires_at == clock.now.replace(year=clock.now.year + 1)
