"""Staff's answers to requests: postponing, refusing, carrying out, and the answer's mail.

Every step here acts on a request its caller may handle (``_acting``), in one
transaction that also hands the answer to ``queue``: a surface storing it there (the
outbox) cannot be stopped between closing the request and keeping its answer.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, update

from haechi.access.decision import Actor
from haechi.engine import rights_actions as fulfil
from haechi.engine.rights_fulfil import RightsFulfilMixin, moment
from haechi.errors import Conflict, InvalidInput
from haechi.rights import documents
from haechi.rights import requests as rows
from haechi.rights.models import (
    AnswerHook,
    Delivery,
    PostponeReason,
    RefusalReason,
    ResultMail,
    State,
    SubjectExport,
)
from haechi.storage.rights_tables import rights_requests

__all__ = ["RightsAnswerMixin"]

_OPEN = (State.VERIFIED, State.IN_PROGRESS, State.POSTPONED)
# A postponed answer is still due within this many days of receipt.
_MAX_POSTPONE_DAYS = 60
_MAX_NOTE = 2000


class RightsAnswerMixin(RightsFulfilMixin):
    """Staff answers to verified requests: postpone, refuse, complete, record the delivery."""

    def postpone_request(
        self,
        request_id: str,
        *,
        reason: str,
        due_at: datetime,
        note: str | None = None,
        actor: Actor,
        queue: AnswerHook | None = None,
    ) -> ResultMail | None:
        """Postpone the answer once, within the original deadline, to a new due date.

        ``queue`` takes the answer in the same transaction (see :meth:`complete_request`).
        """
        if reason not in set(PostponeReason):
            raise InvalidInput("reason is not a postponement reason", field="reason")
        self._check_note(note)
        row = self._acting(request_id, "postpone", actor)
        now = self.clock()
        if due_at.tzinfo is None:
            raise InvalidInput("due_at must give its UTC offset", field="due_at")
        if row.postponed_at is not None:
            raise Conflict("a request is postponed once only", code="ALREADY_POSTPONED")
        if now > row.original_due_at:
            raise Conflict("the original deadline has passed", code="DEADLINE_PASSED")
        if not row.due_at < due_at <= row.received_at + timedelta(days=_MAX_POSTPONE_DAYS):
            raise InvalidInput(
                f"due_at is after the current due date and within {_MAX_POSTPONE_DAYS} days "
                "of receipt",
                field="due_at",
            )
        with self.transaction() as connection:
            rows.move(
                connection,
                request_id,
                to=State.POSTPONED,
                allowed_from=(State.VERIFIED, State.IN_PROGRESS),
                postponed_at=now,
                postpone_reason=reason,
                due_at=due_at,
                alerted=None,
            )
            self._add_note(connection, request_id, note, now)
            self._step(connection, row, "postpone", actor=actor)
            return self._result(connection, rows.load(connection, request_id), queue=queue)

    def refuse_request(
        self,
        request_id: str,
        *,
        reason: str,
        note: str | None = None,
        actor: Actor,
        queue: AnswerHook | None = None,
    ) -> ResultMail | None:
        """Refuse a request with its reason; the answer says how to object.

        ``queue`` takes the answer in the same transaction (see :meth:`complete_request`).
        """
        if reason not in set(RefusalReason):
            raise InvalidInput("reason is not a refusal reason", field="reason")
        self._check_note(note)
        row = self._acting(request_id, "refuse", actor)
        now = self.clock()
        with self.transaction() as connection:
            rows.move(
                connection,
                request_id,
                to=State.REFUSED,
                allowed_from=(State.RECEIVED, *_OPEN),
                refusal_reason=reason,
                closed_at=now,
                retain_until=now + self.request_rules.record_retention,
            )
            self._add_note(connection, request_id, note, now)
            fulfil.release_holds(connection, request_id=request_id, now=now)
            self._step(connection, row, "refuse", actor=actor, code=reason)
            return self._result(connection, rows.load(connection, request_id), queue=queue)

    def _check_note(self, note: str | None) -> None:
        if note is not None and len(note) > _MAX_NOTE:
            raise InvalidInput(f"note has at most {_MAX_NOTE} characters", field="note")

    def _add_note(
        self, connection: Connection, request_id: str, note: str | None, now: datetime
    ) -> None:
        if note:
            documents.add(
                connection,
                keys=self.keys,
                request_id=request_id,
                kind=documents.NOTE,
                content=note.encode(),
                media_type="text/plain",
                now=now,
            )

    def _result(
        self,
        connection: Connection,
        row: Row[Any],
        export: SubjectExport | None = None,
        *,
        queue: AnswerHook | None = None,
    ) -> ResultMail | None:
        """The answer to mail, if the request was verified and has an address to answer.

        Given to ``queue`` here, in the transaction of the step that makes it.
        """
        if row.verified_at is None:
            return None
        address = self._contact(connection, row.id)
        if not address:
            return None
        outcome = json.loads(row.outcome) if row.outcome else {}
        if row.state == State.POSTPONED:
            outcome.update(postpone_reason=row.postpone_reason, due_at=row.due_at.isoformat())
        if row.state == State.REFUSED:
            outcome.setdefault("refusal_reason", row.refusal_reason)
        mail = ResultMail(row.id, address, row.kind, row.state, row.lang, export, outcome)
        if queue is not None:
            queue(connection, mail)
        return mail

    def complete_request(
        self,
        request_id: str,
        *,
        delivery: str = Delivery.MAIL.value,
        actor: Actor,
        queue: AnswerHook | None = None,
    ) -> ResultMail | None:
        """Carry a verified request out.

        The answer goes by mail (the returned message) or is recorded as sent by post or fax.
        ``queue`` is given the message to mail inside the transaction that closes the
        request: a surface that stores it there (the outbox) cannot be stopped between
        the two, leaving a request closed whose answer exists nowhere.
        """
        if delivery not in set(Delivery):
            raise InvalidInput("delivery is mail, post or fax", field="delivery")
        row = self._acting(request_id, "complete", actor)
        now = self.clock()
        with self.transaction() as connection:
            row = rows.load(connection, request_id, lock=True)
            if row.state not in {state.value for state in _OPEN}:
                raise Conflict(
                    f"a request that is {row.state} cannot be completed", code="REQUEST_STATE"
                )
            if delivery == Delivery.MAIL and not self._contact(connection, row.id):
                raise Conflict(
                    "there is no verified address to mail", field="delivery", code="NO_ADDRESS"
                )
            fulfil.release_holds(connection, request_id=request_id, now=now)
            state, outcome, export = self._fulfil(connection, row, actor=actor, now=now)
            rows.move(
                connection,
                request_id,
                to=state,
                allowed_from=_OPEN,
                closed_at=now,
                outcome=json.dumps(outcome, sort_keys=True),
                delivery=delivery,
                delivered_at=None if delivery == Delivery.MAIL else now,
                refusal_reason=outcome.get("refusal_reason"),
                refusal_until=moment(outcome.get("refusal_until")),
                retain_until=now + self.request_rules.record_retention,
            )
            self._step(
                connection,
                row,
                "complete" if state is State.COMPLETED else "refuse",
                actor=actor,
                code=outcome.get("refusal_reason"),
            )
            return self._result(connection, rows.load(connection, request_id), export, queue=queue)

    def record_delivery_on(self, connection: Connection, request_id: str, *, actor: Actor) -> None:
        """Record that the answer was mailed, in the transaction marking its mail sent."""
        row = rows.load(connection, request_id)
        connection.execute(
            update(rights_requests)
            .where(rights_requests.c.id == request_id)
            .values(delivered_at=self.clock())
        )
        self._step(connection, row, "deliver", actor=actor)
