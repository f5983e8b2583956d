"""Complaints through the engine: intake, a sealed thread, assignment, closing, destruction."""

from __future__ import annotations

import json
import logging
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select, text, update

from haechi import Actor, ConsentEvidence, Engine
from haechi.engine import SYSTEM
from haechi.errors import AccessDenied, Conflict, ConsentRequired, IntegrityFailure, InvalidInput
from haechi.mail.complaints import ResultQueue
from haechi.mail.outbox import deliver_due, pending
from haechi.mail.recorded import ON_SENT
from haechi.storage.complaints_tables import complaint_keys, complaint_messages
from haechi.storage.mail_tables import mail_outbox
from haechi.storage.tables import audit_events, collections, consents
from tests.conftest import PERSON, Database, FakeClock, raw_storage

PETITION = "배송된 제품이 파손되어 있었습니다 — Canary-Petition-Quince-4417"
REPLY = "Canary-Reply-Marmalade-9921: we are checking with the courier"
RESULT = "Canary-Result-Tangerine-5530: a replacement is on its way"

PUBLIC = Actor(
    name="public", kind="public", purposes=frozenset({"complaints"}), source_ip="198.51.100.7"
)
OFFICER = Actor(
    name="park", kind="staff", purposes=frozenset(), all_purposes=True, role="privacy_officer"
)
AUDITOR = Actor(name="auditor", kind="staff", purposes=frozenset(), role="auditor")


def handler(name: str = "lee") -> Actor:
    return Actor(name=name, kind="staff", purposes=frozenset({"complaints"}), role="handler")


def consent() -> ConsentEvidence:
    return ConsentEvidence(granted=True, method="web-form", source_ip="198.51.100.7")


def submit(engine: Engine, person: dict[str, str] = PERSON, petition: str = PETITION) -> str:
    intake = engine.submit_complaint(
        items=person, description=petition, consent=consent(), actor=PUBLIC
    )
    return intake.complaint_id


def assigned(engine: Engine, name: str = "lee") -> str:
    engine.add_staff(username=name, role="handler", purposes=["complaints"], actor=SYSTEM)
    complaint_id = submit(engine)
    engine.assign_complaint(complaint_id, to=name, actor=OFFICER)
    return complaint_id


def test_intake_is_a_consented_collection_under_the_complaints_purpose(
    engine: Engine, database: Database
) -> None:
    """It collects the petitioner's items for 'complaints' with consent, and logs the intake."""
    complaint_id = submit(engine)
    info, thread = engine.complaint(complaint_id, actor=OFFICER)
    with database.engine.connect() as connection:
        row = connection.execute(
            select(collections.c.purpose, collections.c.consented).where(
                collections.c.id == info.collection_id
            )
        ).one()
        granted = connection.execute(
            select(consents.c.granted).where(consents.c.collection_id == info.collection_id)
        ).scalar_one()
        actions = list(
            connection.execute(
                select(audit_events.c.action).where(audit_events.c.reason == f"complaint {info.id}")
            ).scalars()
        )
    assert (row.purpose, row.consented, granted) == ("complaints", True, True)
    assert info.state.value == "received"
    assert [(m.kind, m.author, m.text) for m in thread] == [("petition", "petitioner", PETITION)]
    assert engine.use(actor=handler(), subject_id=info.subject_id, purpose="complaints") == PERSON
    assert actions == ["complaint_open", "complaint_view"]


def test_intake_without_consent_is_refused(engine: Engine) -> None:
    """It refuses a complaint whose petitioner did not consent, naming the field."""
    with pytest.raises(ConsentRequired) as refused:
        engine.submit_complaint(
            items=PERSON,
            description=PETITION,
            consent=ConsentEvidence(granted=False, method="web-form"),
            actor=PUBLIC,
        )
    assert refused.value.code == "NO_CONSENT"


def test_a_petition_with_a_resident_number_is_refused_unquoted(engine: Engine) -> None:
    """It refuses a petition holding a resident registration number, without echoing it."""
    with pytest.raises(InvalidInput) as refused:
        submit(engine, petition="제 주민번호는 900101-1234568 입니다")
    assert refused.value.code == "UNIQUE_IDENTIFIER_IN_TEXT"
    assert "900101" not in str(refused.value)


@pytest.mark.parametrize("trick", ["\u202egnp.exe", "\x9b2J", "\x1b[2J"])
def test_a_petition_with_a_control_or_bidi_override_is_refused(engine: Engine, trick: str) -> None:
    """It refuses a petition that would reorder or escape what a staff page shows."""
    with pytest.raises(InvalidInput) as refused:
        submit(engine, petition=f"hello {trick}")
    assert refused.value.code == "INVALID_TEXT"
    assert trick not in str(refused.value)


def test_the_thread_is_sealed_in_storage(
    engine: Engine, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """It keeps no message in plaintext: not in the tables, WAL, a dump, events or logs."""
    caplog.set_level(logging.DEBUG)
    complaint_id = assigned(engine)
    engine.reply_complaint(complaint_id, text=REPLY, actor=handler())
    engine.verify_complaint_contact(complaint_id, method="phone", actor=handler())
    engine.close_complaint(complaint_id, result=RESULT, delivery="post", actor=handler())
    with database.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(complaint_messages)).scalar()
        rows = connection.execute(select(audit_events))
        events = json.dumps([list(map(str, row)) for row in rows])
    assert count == 3
    raw = raw_storage(database)
    if database.backend == "postgresql":
        assert b"COPY public.complaint_messages" in raw
    for canary in (b"Canary-Petition", b"Canary-Reply", b"Canary-Result"):
        assert canary not in raw
        assert canary.decode() not in events
        assert canary.decode() not in caplog.text


def test_a_message_moved_to_another_place_fails_to_open(engine: Engine, database: Database) -> None:
    """It refuses to open a sealed message put in another message's place."""
    complaint_id = assigned(engine)
    engine.reply_complaint(complaint_id, text=REPLY, actor=handler())
    with database.engine.begin() as connection:
        sealed = connection.execute(
            select(complaint_messages.c.sealed).where(complaint_messages.c.seq == 2)
        ).scalar_one()
        connection.execute(
            complaint_messages.update().where(complaint_messages.c.seq == 1).values(sealed=sealed)
        )
    with pytest.raises(IntegrityFailure) as failed:
        engine.complaint(complaint_id, actor=OFFICER)
    assert failed.value.code == "CIPHERTEXT_TAMPERED"


def test_assignment_to_someone_without_the_complaints_grant_is_refused(
    engine: Engine, database: Database
) -> None:
    """It refuses to assign to a handler without the grant, an auditor or nobody; it logs each."""
    engine.add_staff(username="kim", role="handler", purposes=["service"], actor=SYSTEM)
    engine.add_staff(username="choi", role="auditor", actor=SYSTEM)
    engine.add_staff(username="lee", role="handler", purposes=["complaints"], actor=SYSTEM)
    complaint_id = submit(engine)
    for username in ("kim", "choi", "nobody-of-that-name"):
        with pytest.raises(Conflict) as refused:
            engine.assign_complaint(complaint_id, to=username, actor=OFFICER)
        assert refused.value.code == "ASSIGNEE_NOT_GRANTED"
        assert username not in str(refused.value)
    engine.assign_complaint(complaint_id, to="lee", actor=OFFICER)
    info, _ = engine.complaint(complaint_id, actor=OFFICER)
    assert (info.state.value, info.assigned_to) == ("assigned", "lee")
    with database.engine.connect() as connection:
        denied = connection.execute(
            select(audit_events.c.code).where(
                audit_events.c.action == "complaint_assign", audit_events.c.outcome == "denied"
            )
        ).scalars()
        assert list(denied) == ["ASSIGNEE_NOT_GRANTED"] * 3
        logged = " ".join(str(r) for r in connection.execute(select(audit_events)))
    assert "nobody-of-that-name" not in logged


def test_only_the_assignee_or_the_officer_acts_on_a_complaint(engine: Engine) -> None:
    """It refuses a reply by another complaints handler, and any action by an outsider."""
    complaint_id = assigned(engine)
    with pytest.raises(AccessDenied):
        engine.reply_complaint(complaint_id, text=REPLY, actor=handler("other"))
    outsider = Actor(name="kim", kind="staff", purposes=frozenset({"service"}), role="handler")
    with pytest.raises(AccessDenied):
        engine.complaint(complaint_id, actor=outsider)
    with pytest.raises(AccessDenied):
        engine.complaints(actor=outsider)
    assert engine.reply_complaint(complaint_id, text=REPLY, actor=OFFICER) == 2


def test_auditors_read_metadata_never_the_text(engine: Engine) -> None:
    """It shows an auditor the queue and who wrote when, with every text withheld."""
    complaint_id = assigned(engine)
    engine.reply_complaint(complaint_id, text=REPLY, actor=handler())
    [listed] = engine.complaints(actor=AUDITOR)
    info, thread = engine.complaint(complaint_id, actor=AUDITOR)
    assert listed.id == info.id == complaint_id
    assert [(m.kind, m.author, m.text) for m in thread] == [
        ("petition", "petitioner", None),
        ("reply", "lee", None),
    ]
    with pytest.raises(AccessDenied):
        engine.reply_complaint(complaint_id, text=REPLY, actor=AUDITOR)


def test_closing_by_mail_needs_a_confirmed_address(engine: Engine) -> None:
    """It refuses to mail a result before the handler confirmed the petitioner's email."""
    complaint_id = assigned(engine)
    with pytest.raises(Conflict) as refused:
        engine.close_complaint(complaint_id, result=RESULT, actor=handler())
    assert refused.value.code == "EMAIL_NOT_VERIFIED"
    info = engine.close_complaint(complaint_id, result=RESULT, delivery="post", actor=handler())
    assert (info.state.value, info.delivery) == ("closed", "post")
    assert info.delivered_at is not None
    with pytest.raises(Conflict) as closed:
        engine.reply_complaint(complaint_id, text=REPLY, actor=handler())
    assert closed.value.code == "COMPLAINT_CLOSED"


def test_a_second_complaint_keeps_the_first_thread(engine: Engine) -> None:
    """It keeps a first complaint's thread readable when the same person complains again."""
    first = submit(engine)
    second = submit(engine, petition="Second petition, about the invoice")
    one, first_thread = engine.complaint(first, actor=OFFICER)
    two, second_thread = engine.complaint(second, actor=OFFICER)
    assert one.collection_id == two.collection_id
    assert first_thread[0].text == PETITION
    assert second_thread[0].text == "Second petition, about the invoice"


def test_destroying_the_collection_shreds_the_thread(engine: Engine, database: Database) -> None:
    """It deletes the thread's key and messages with the collection: the texts are gone."""
    complaint_id = assigned(engine)
    engine.reply_complaint(complaint_id, text=REPLY, actor=handler())
    info, _ = engine.complaint(complaint_id, actor=OFFICER)
    engine.destroy(info.collection_id, actor=OFFICER)
    after, thread = engine.complaint(complaint_id, actor=OFFICER)
    assert after.collection_state == "destroyed"
    assert thread == []
    with database.engine.connect() as connection:
        for table in (complaint_keys, complaint_messages):
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 0
    with pytest.raises(Conflict):
        engine.reply_complaint(complaint_id, text=REPLY, actor=handler())


def test_the_sweep_separates_then_destroys_the_thread(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It keeps the thread under the legal hold, for hold:complaints only, then shreds it."""
    complaint_id = assigned(engine)
    engine.close_complaint(complaint_id, result=RESULT, delivery="post", actor=handler())
    clock.advance(days=366)
    engine.sweep()
    info, thread = engine.complaint(complaint_id, actor=handler())
    assert info.collection_state == "separated"
    assert [m.text for m in thread] == [None, None]
    keeper = Actor(name="keeper", kind="staff", purposes=frozenset({"hold:complaints"}))
    _, kept = engine.complaint(complaint_id, actor=keeper)
    assert [m.text for m in kept] == [PETITION, RESULT]
    clock.advance(days=3 * 366 + 10)
    engine.sweep()
    info, thread = engine.complaint(complaint_id, actor=OFFICER)
    assert (info.collection_state, thread) == ("destroyed", [])
    with database.engine.connect() as connection:
        assert connection.execute(text("select count(*) from complaint_keys")).scalar() == 0


def test_public_intake_is_limited_per_source_address(engine: Engine, clock: FakeClock) -> None:
    """It refuses more than ten intakes an hour from one address, then accepts again."""
    for _ in range(10):
        submit(engine)
    with pytest.raises(Conflict) as limited:
        submit(engine)
    assert limited.value.code == "RATE_LIMITED"
    clock.advance(hours=1, seconds=1)
    submit(engine)


def test_a_suspended_collection_is_answered_like_any_other(engine: Engine) -> None:
    """It answers a public intake for a person whose processing is suspended alike.

    The complaint is filed on the suspended data, which stays as it was, and can be
    followed like anyone's: a token that led nowhere would tell the suspension.
    """
    first = submit(engine)
    info, _ = engine.complaint(first, actor=OFFICER)
    engine.suspend(info.collection_id, actor=OFFICER)
    intake = engine.submit_complaint(
        items=PERSON, description=PETITION, consent=consent(), actor=PUBLIC
    )
    assert intake.status_token.startswith("hcc_")
    followed = engine.complaint_status(intake.complaint_id, token=intake.status_token)
    assert followed is not None
    assert followed.collection_id == info.collection_id
    assert followed.collection_state == "suspended"
    assert len(engine.complaints(actor=OFFICER)) == 2


def test_the_status_token_follows_one_complaint(engine: Engine) -> None:
    """It shows a complaint's state to the holder of its token, and nothing for another."""
    intake = engine.submit_complaint(
        items=PERSON, description=PETITION, consent=consent(), actor=PUBLIC
    )
    found = engine.complaint_status(intake.complaint_id, token=intake.status_token)
    assert found is not None
    assert found.state.value == "received"
    assert engine.complaint_status(intake.complaint_id, token="hcc_wrong") is None
    assert engine.complaint_status("no-such-id", token=intake.status_token) is None


class Mailer:
    """A mail sender that fails until told otherwise, then keeps what it sends."""

    def __init__(self) -> None:
        self.down = True
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        if self.down:
            raise ConnectionRefusedError("smtp down")
        self.sent.append(message)


def _mail_events(database: Database) -> list[str | None]:
    with database.engine.connect() as connection:
        return list(
            connection.execute(
                select(audit_events.c.code).where(audit_events.c.action == "complaint_mail")
            ).scalars()
        )


def test_an_undelivered_result_waits_in_the_outbox_and_counts_once_sent(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It closes with the result queued when mail fails, and records it delivered once sent.

    Before, the result was mailed after the close committed and a failed mail raised
    MAIL_FAILED, leaving nothing to send it but a person pressing "deliver again".
    """
    complaint_id = assigned(engine)
    engine.verify_complaint_contact(complaint_id, method="phone", actor=handler())
    mailer = Mailer()
    queue = ResultQueue(engine)
    info = engine.close_complaint(complaint_id, result=RESULT, actor=handler(), queue=queue)
    assert (info.state.value, info.delivery, info.delivered_at) == ("closed", "mail", None)
    with database.engine.connect() as connection:
        # The address the result goes to was read as an audited use, by the handler.
        read = connection.execute(
            select(audit_events.c.actor, audit_events.c.outcome).where(
                audit_events.c.action == "view",
                audit_events.c.reason == f"complaint {complaint_id}",
            )
        ).all()
    assert [(row.actor, row.outcome) for row in read] == [(handler().name, "allowed")]
    assert queue.send(mailer) is False
    assert engine.complaint(complaint_id, actor=OFFICER)[0].delivered_at is None
    assert pending(engine) == 1
    with pytest.raises(Conflict) as queued:
        engine.deliver_complaint_result(complaint_id, actor=handler(), queue=ResultQueue(engine))
    assert queued.value.code == "ALREADY_QUEUED"
    assert _mail_events(database) == []

    mailer.down = False
    clock.advance(minutes=1)
    assert deliver_due(engine, mailer, on_sent=ON_SENT).sent == 1
    [message] = mailer.sent
    assert message["To"] == PERSON["email"]
    assert RESULT in message.get_content()
    assert engine.complaint(complaint_id, actor=OFFICER)[0].delivered_at is not None
    with pytest.raises(Conflict) as again:
        engine.deliver_complaint_result(complaint_id, actor=handler(), queue=ResultQueue(engine))
    assert again.value.code == "NOT_PENDING"
    assert _mail_events(database) == [None]


def test_deliver_again_queues_a_result_that_waits_nowhere(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It queues the result anew when none waits unsent, e.g. sent before a crash unrecorded."""
    complaint_id = assigned(engine)
    engine.verify_complaint_contact(complaint_id, method="phone", actor=handler())
    engine.close_complaint(complaint_id, result=RESULT, actor=handler(), queue=ResultQueue(engine))
    # A server stopped between the SMTP server's acceptance and the record of it.
    with database.engine.begin() as connection:
        connection.execute(
            update(mail_outbox).values(sent_at=clock.now, sealed=None, wrapped_key=None)
        )
    mailer = Mailer()
    mailer.down = False
    queue = ResultQueue(engine)
    engine.deliver_complaint_result(complaint_id, actor=handler(), queue=queue)
    assert queue.send(mailer) is True
    [message] = mailer.sent
    assert RESULT in message.get_content()
    assert engine.complaint(complaint_id, actor=OFFICER)[0].delivered_at is not None


def test_mail_without_a_mail_server_is_refused_before_closing(engine: Engine) -> None:
    """It refuses a mailed result when no mail server is set, and the complaint stays open."""
    complaint_id = assigned(engine)
    engine.verify_complaint_contact(complaint_id, method="phone", actor=handler())
    with pytest.raises(Conflict) as refused:
        engine.close_complaint(complaint_id, result=RESULT, actor=handler())
    assert refused.value.code == "MAIL_DISABLED"
    assert engine.complaint(complaint_id, actor=OFFICER)[0].state.value == "assigned"
    assert pending(engine) == 0
