"""A request's answer is stored in the outbox by the step that decides it, or neither is.

Before, the surfaces queued the answer after the response: a server killed between the
two left a request completed whose answer existed nowhere, with no step to send it
(tests/reliability/test_kill_server.py found it).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Connection, select

from haechi import Engine
from haechi.engine import SYSTEM
from haechi.mail.outbox import pending
from haechi.mail.requests import RESULT, AnswerQueue
from haechi.rights.models import ResultMail
from haechi.storage.mail_tables import mail_outbox
from tests.conftest import FakeClock
from tests.rights.support import collect


def _verified(engine: Engine, email: str, *, start: bool = True) -> str:
    entered = engine.enter_request(kind="access", channel="email", email=email, actor=SYSTEM)
    engine.verify_request(entered.id, method="reply_from_address", actor=SYSTEM)
    if start:
        engine.start_request(entered.id, actor=SYSTEM)
    return entered.id


def _queued(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.database.connect() as connection:
        rows = connection.execute(select(mail_outbox.c.kind, mail_outbox.c.reference)).all()
    return [(row.kind, row.reference) for row in rows]


def test_completing_queues_the_answer_before_any_send(
    engine: Engine, person: dict[str, str]
) -> None:
    """It holds the answer in the outbox once the step returns, though nothing sent it."""
    collect(engine, person)
    request_id = _verified(engine, person["email"])
    queue = AnswerQueue(engine)
    mail = engine.complete_request(request_id, actor=SYSTEM, queue=queue)
    assert mail is not None
    assert _queued(engine) == [(RESULT, request_id)]
    assert pending(engine) == 1
    assert queue.send(None) is False  # no mail server: it waits, not marked delivered
    assert engine.request(request_id, actor=SYSTEM).delivered_at is None


def test_refusing_and_postponing_queue_their_answers(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It queues the postponement's and the refusal's answers in their own steps."""
    collect(engine, person)
    request_id = _verified(engine, person["email"], start=False)
    engine.postpone_request(
        request_id,
        reason="LARGE_VOLUME",
        due_at=clock.now + timedelta(days=20),
        actor=SYSTEM,
        queue=AnswerQueue(engine),
    )
    engine.refuse_request(
        request_id, reason="OTHERS_LIFE_OR_PROPERTY", actor=SYSTEM, queue=AnswerQueue(engine)
    )
    assert _queued(engine) == [(RESULT, request_id), (RESULT, request_id)]


def test_an_answer_that_cannot_be_stored_leaves_the_request_open(
    engine: Engine, person: dict[str, str]
) -> None:
    """It rolls the completion back with its answer: the request can still be completed."""
    collect(engine, person)
    request_id = _verified(engine, person["email"])

    def broken(connection: Connection, mail: ResultMail) -> None:
        raise OSError("the outbox could not be written")

    with pytest.raises(OSError, match="outbox"):
        engine.complete_request(request_id, actor=SYSTEM, queue=broken)
    shown = engine.request(request_id, actor=SYSTEM)
    assert shown.state == "in_progress"
    assert "complete" not in [step.step for step in shown.history]
    assert _queued(engine) == []
    engine.complete_request(request_id, actor=SYSTEM, queue=AnswerQueue(engine))
    assert engine.request(request_id, actor=SYSTEM).state == "completed"
    assert _queued(engine) == [(RESULT, request_id)]
