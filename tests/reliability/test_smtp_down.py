"""SMTP down: codes, answers, results wait sealed in the outbox, go when it returns, then count.

A real aiosmtpd server is absent, then started on the port the notifier uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import pytest
from sqlalchemy import Connection, select

from haechi import Actor, ConsentEvidence, Engine
from haechi.config import MailSettings
from haechi.engine import SYSTEM
from haechi.errors import PermissionDenied
from haechi.mail import SmtpNotifier, mail_alerts
from haechi.mail.complaints import ResultQueue
from haechi.mail.outbox import DeliveryRound, OnSent, deliver_due, pending
from haechi.mail.recorded import ON_SENT as EVERY_KIND
from haechi.mail.requests import ON_SENT, deliver_code, deliver_result
from haechi.rights.complaints import MAIL_KIND
from haechi.storage.mail_tables import mail_outbox
from haechi.storage.prepared import raw_read
from tests.conftest import Database, FakeClock, raw_storage
from tests.rights.support import collect, smtp_server, text_of
from tests.serving import free_port

COMPLAINT_RESULT = "Canary-Complaint-Result-Persimmon-6021: a refund is on its way"


def _answer_ready(engine: Engine, email: str) -> tuple[str, object]:
    """An access request entered by staff and carried out; its id and answer mail."""
    entered = engine.enter_request(kind="access", channel="email", email=email, actor=SYSTEM)
    engine.verify_request(entered.id, method="reply_from_address", actor=SYSTEM)
    engine.start_request(entered.id, actor=SYSTEM)
    mail = engine.complete_request(entered.id, actor=SYSTEM)
    assert mail is not None
    return entered.id, mail


def _back_again(
    engine: Engine,
    notifier: SmtpNotifier,
    clock: FakeClock,
    on_sent: Mapping[str, OnSent],
    *,
    waiting: int,
) -> DeliveryRound:
    """The server is back: still backing off, then the ``waiting`` messages once, then none."""
    assert deliver_due(engine, notifier, on_sent=on_sent).sent == 0  # backing off
    clock.advance(minutes=1)
    done = deliver_due(engine, notifier, on_sent=on_sent)
    assert (done.sent, done.failed, done.expired) == (waiting, 0, 0)
    assert deliver_due(engine, notifier, on_sent=on_sent).sent == 0  # sent once
    return done


def test_mail_waits_sealed_while_smtp_is_down_and_goes_when_it_returns(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It keeps 2 messages unsent (not marked sent) while down, then sends both, once."""
    collect(engine, person)
    port = free_port()
    notifier = SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=port))
    receipt = engine.submit_request(kind="access", email=person["email"], source_ip="198.51.100.7")
    assert receipt.code_mail is not None
    deliver_code(engine, notifier, receipt.code_mail)
    request_id, answer = _answer_ready(engine, person["email"])
    assert deliver_result(engine, notifier, answer) is False  # type: ignore[arg-type]

    assert pending(engine) == 2
    assert engine.request(request_id, actor=SYSTEM).delivered_at is None
    with database.engine.connect() as connection:
        rows = connection.execute(select(mail_outbox)).all()
    assert [row.sent_at for row in rows] == [None, None]
    assert {row.last_error for row in rows} == {"ConnectionRefusedError"}
    stored = raw_storage(database)
    assert person["email"].encode() not in stored
    assert receipt.code_mail.code.encode() not in stored

    with smtp_server(port) as inbox:
        _back_again(engine, notifier, clock, ON_SENT, waiting=2)

    assert len(inbox.to(person["email"])) == 2
    assert any(receipt.code_mail.code in text_of(message) for message in inbox.messages)
    assert engine.request(request_id, actor=SYSTEM).delivered_at is not None
    assert pending(engine) == 0
    with database.engine.connect() as connection:
        rows = connection.execute(select(mail_outbox)).all()
    assert all(row.sent_at is not None and row.sealed is None for row in rows)


def test_a_code_that_expired_while_smtp_was_down_is_dropped_unsent(
    engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It never mails a code past its validity: the message is marked expired, not sent."""
    collect(engine, person)
    port = free_port()
    notifier = SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=port))
    receipt = engine.submit_request(kind="access", email=person["email"], source_ip="198.51.100.7")
    assert receipt.code_mail is not None
    deliver_code(engine, notifier, receipt.code_mail)
    clock.advance(seconds=engine.request_rules.code_ttl.total_seconds() + 60)
    with smtp_server(port) as inbox:
        done = deliver_due(engine, notifier, on_sent=ON_SENT)
    assert (done.sent, done.expired) == (0, 1)
    assert inbox.messages == []
    assert pending(engine) == 0


def test_alerts_stay_unmailed_while_smtp_is_down(engine: Engine) -> None:
    """It leaves an alert unmailed when the server is down, and marks it once mailed."""
    port = free_port()
    notifier = SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=port))
    for attempt in range(6):
        with contextlib.suppress(PermissionDenied):
            engine.login(username="nobody", password=f"wrong-{attempt}", source_ip="203.0.113.5")
    engine.run_monitors()
    raised = engine.alerts(unmailed=True)
    assert raised, "the failed logins raised no alert"
    with contextlib.suppress(OSError):
        mail_alerts(engine, notifier)
    assert len(engine.alerts(unmailed=True)) == len(raised)
    with smtp_server(port) as inbox:
        assert mail_alerts(engine, notifier) == len(raised)
    assert engine.alerts(unmailed=True) == []
    assert len(inbox.messages) == 1


def test_a_complaint_result_waits_sealed_while_smtp_is_down_and_counts_once_sent(
    engine: Engine, database: Database, clock: FakeClock, person: dict[str, str]
) -> None:
    """It queues a closed complaint's result sealed, unmarked, then sends it once and marks it."""
    engine.add_staff(username="lee", role="handler", purposes=["complaints"], actor=SYSTEM)
    lee = Actor(name="lee", kind="staff", purposes=frozenset({"complaints"}), role="handler")
    officer = Actor(
        name="park", kind="staff", purposes=frozenset(), all_purposes=True, role="privacy_officer"
    )
    intake = engine.submit_complaint(
        items=person,
        description="The parcel arrived broken.",
        consent=ConsentEvidence(granted=True, method="web-form", source_ip="198.51.100.7"),
        actor=Actor(
            name="public",
            kind="public",
            purposes=frozenset({"complaints"}),
            source_ip="198.51.100.7",
        ),
    )
    complaint_id = intake.complaint_id
    engine.assign_complaint(complaint_id, to="lee", actor=officer)
    engine.verify_complaint_contact(complaint_id, method="phone", actor=lee)
    port = free_port()
    notifier = SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=port))
    queue = ResultQueue(engine)
    engine.close_complaint(complaint_id, result=COMPLAINT_RESULT, actor=lee, queue=queue)
    assert queue.send(notifier) is False

    assert pending(engine) == 1
    assert engine.complaint(complaint_id, actor=officer)[0].delivered_at is None
    with database.engine.connect() as connection:
        [row] = connection.execute(select(mail_outbox)).all()
    assert (row.kind, row.reference, row.sent_at) == (MAIL_KIND, complaint_id, None)
    assert row.last_error == "ConnectionRefusedError"
    stored = raw_storage(database)
    assert person["email"].encode() not in stored
    assert COMPLAINT_RESULT.encode() not in stored

    with smtp_server(port) as inbox:
        done = _back_again(engine, notifier, clock, EVERY_KIND, waiting=1)

    [message] = inbox.to(person["email"])
    assert COMPLAINT_RESULT in text_of(message)
    assert engine.complaint(complaint_id, actor=officer)[0].delivered_at is not None
    assert pending(engine) == 0
    print(
        f"\ncomplaint result while SMTP was down: 1 queued sealed, 0 marked delivered; "
        f"after return {done.sent} sent, {len(inbox.messages)} received, 0 lost"
    )


def test_the_mark_of_sent_and_the_delivery_commit_together_and_a_failed_record_sends_once(
    engine: Engine, database: Database, person: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The answer's delivery is written in the transaction that marks its mail sent.

    Seen from inside the report: the outbox row is already marked sent on the same
    connection, and not yet from another. A report that fails leaves the mark standing
    (the mail is never sent twice) and logs its type only.
    """
    collect(engine, person)
    port = free_port()
    notifier = SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=port))
    request_id, answer = _answer_ready(engine, person["email"])
    seen: dict[str, object] = {}

    def record(connection: Connection, engine: Engine, reference: str | None) -> None:
        sent_here = connection.execute(select(mail_outbox.c.sent_at)).scalar_one()
        with raw_read(database.engine) as other:  # a snapshot read: no write lock wanted
            other.execute("SELECT sent_at FROM mail_outbox")
            [(sent_elsewhere,)] = other.fetchall()
        seen.update(here=sent_here, elsewhere=sent_elsewhere, reference=reference)
        ON_SENT["result"](connection, engine, reference)
        raise RuntimeError("Canary-Record-Fault-Quince-5521")

    with smtp_server(port) as inbox:
        assert deliver_result(engine, None, answer) is False  # type: ignore[arg-type]
        assert deliver_due(engine, notifier, on_sent={"result": record}).sent == 1
        assert deliver_due(engine, notifier, on_sent={"result": record}).sent == 0
    assert len(inbox.to(person["email"])) == 1
    assert seen["here"] is not None
    assert seen["elsewhere"] is None
    assert seen["reference"] == request_id
    # The failed report rolled back to its savepoint: no delivery recorded, mark kept.
    assert engine.request(request_id, actor=SYSTEM).delivered_at is None
    assert pending(engine) == 0
    assert "could not be recorded: RuntimeError" in caplog.text
    assert "Canary-Record-Fault" not in caplog.text
