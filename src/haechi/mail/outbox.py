"""The outbox: a message is stored sealed, then sent; only what the server took is sent.

:func:`enqueue` stores a message (sealed under its own data key, see
:mod:`haechi.storage.mail_tables`) and :func:`deliver_due` sends what is due: each
message is claimed for :data:`CLAIM` by a conditional update (so two servers never
send it at once), sent outside any transaction, then marked sent with its key and
ciphertext deleted, in the transaction that records what it reports (a request's
answer as delivered). A failure (the SMTP server down, refusing, timing out) records
the exception type, and the message waits with a growing back-off; a message past
its ``expires_at`` (a one-time code no longer valid) is dropped unsent, as expired.
A server killed between the SMTP server's acceptance and the mark sends the message
again once the claim lapses: at least once, never recorded as sent unsent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, ClassVar

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Row, and_, insert, or_, select, update

from haechi.crypto.envelope import open_frame, seal_frame
from haechi.crypto.keys import new_data_key
from haechi.engine import Engine
from haechi.mail import Notifier
from haechi.storage.mail_tables import mail_outbox

__all__ = [
    "CLAIM",
    "DeliveryRound",
    "OnSent",
    "StepQueue",
    "deliver_due",
    "enqueue",
    "enqueue_on",
    "pending",
]

_log = logging.getLogger("haechi.mail")

CLAIM = timedelta(minutes=2)
_FIRST_RETRY = timedelta(seconds=15)
_LAST_RETRY = timedelta(hours=1)

OnSent = Callable[[Connection, Engine, str | None], None]
"""What to record once a message of a kind went, in the transaction that marks it sent
(the connection, ``engine``, the message's reference)."""


@dataclass(frozen=True)
class DeliveryRound:
    """What one round of :func:`deliver_due` did."""

    sent: int = 0
    failed: int = 0
    expired: int = 0


def _context(outbox_id: int) -> bytes:
    return f"haechi-outbox|{outbox_id}".encode()


def enqueue(
    engine: Engine,
    message: EmailMessage,
    *,
    kind: str,
    reference: str | None = None,
    expires_at: datetime | None = None,
) -> int:
    """Store ``message`` sealed, due at once, in a transaction of its own; its outbox id."""
    with engine.transaction() as connection:
        return enqueue_on(
            connection, engine, message, kind=kind, reference=reference, expires_at=expires_at
        )


def enqueue_on(
    connection: Connection,
    engine: Engine,
    message: EmailMessage,
    *,
    kind: str,
    reference: str | None = None,
    expires_at: datetime | None = None,
) -> int:
    """Store ``message`` sealed, due at once, in the caller's transaction; its outbox id.

    The message then commits, or not, with what it reports (a request's answer with
    the request's new state).
    """
    now = engine.clock()
    data_key = new_data_key()
    outbox_id = int(
        connection.execute(
            insert(mail_outbox)
            .values(
                kind=kind,
                reference=reference,
                created_at=now,
                expires_at=expires_at,
                next_attempt_at=now,
                attempts=0,
            )
            .returning(mail_outbox.c.id)
        ).scalar_one()
    )
    connection.execute(
        update(mail_outbox)
        .where(mail_outbox.c.id == outbox_id)
        .values(
            key_id=engine.keys.key_id,
            wrapped_key=engine.keys.wrap(data_key, context=_context(outbox_id)),
            sealed=seal_frame(AESGCM(data_key), message.as_bytes(), _context(outbox_id)),
        )
    )
    return outbox_id


def pending(engine: Engine) -> int:
    """How many messages wait to be sent."""
    with engine.database.connect() as connection:
        return len(
            connection.execute(
                select(mail_outbox.c.id).where(
                    mail_outbox.c.sent_at.is_(None), mail_outbox.c.expired_at.is_(None)
                )
            ).all()
        )


def _claim(engine: Engine, outbox_id: int, now: datetime) -> tuple[str | None, bytes] | None:
    """Take the message for :data:`CLAIM`; its kind's reference and plaintext, or None."""
    with engine.transaction() as connection:
        claimed = connection.execute(
            update(mail_outbox)
            .where(
                mail_outbox.c.id == outbox_id,
                mail_outbox.c.sent_at.is_(None),
                mail_outbox.c.expired_at.is_(None),
                or_(mail_outbox.c.claimed_until.is_(None), mail_outbox.c.claimed_until < now),
            )
            .values(claimed_until=now + CLAIM)
        ).rowcount
        if not claimed:
            return None
        row = connection.execute(
            select(mail_outbox.c.reference, mail_outbox.c.wrapped_key, mail_outbox.c.sealed).where(
                mail_outbox.c.id == outbox_id
            )
        ).one()
    data_key = engine.keys.unwrap(bytes(row.wrapped_key), context=_context(outbox_id))
    return row.reference, open_frame(AESGCM(data_key), bytes(row.sealed), _context(outbox_id))


def _set(connection: Connection, outbox_id: int, **values: object) -> None:
    connection.execute(update(mail_outbox).where(mail_outbox.c.id == outbox_id).values(**values))


def _finish(engine: Engine, outbox_id: int, **values: object) -> None:
    with engine.transaction() as connection:
        _set(connection, outbox_id, **values)


def _expire_overdue(engine: Engine, now: datetime) -> int:
    with engine.transaction() as connection:
        return int(
            connection.execute(
                update(mail_outbox)
                .where(
                    mail_outbox.c.sent_at.is_(None),
                    mail_outbox.c.expired_at.is_(None),
                    mail_outbox.c.expires_at.is_not(None),
                    mail_outbox.c.expires_at < now,
                )
                .values(expired_at=now, wrapped_key=None, sealed=None, claimed_until=None)
            ).rowcount
        )


def _backoff(attempts: int) -> timedelta:
    return min(_FIRST_RETRY * (1 << min(attempts, 16)), _LAST_RETRY)


def deliver_due(
    engine: Engine,
    notifier: Notifier,
    *,
    on_sent: Mapping[str, OnSent] | None = None,
    only: int | None = None,
    limit: int = 100,
) -> DeliveryRound:
    """Send the messages that are due (or only message ``only``); what was done."""
    now = engine.clock()
    expired = _expire_overdue(engine, now)
    due = and_(
        mail_outbox.c.sent_at.is_(None),
        mail_outbox.c.expired_at.is_(None),
        mail_outbox.c.next_attempt_at <= now,
    )
    query = select(mail_outbox.c.id, mail_outbox.c.kind, mail_outbox.c.attempts).where(due)
    if only is not None:
        query = query.where(mail_outbox.c.id == only)
    with engine.database.connect() as connection:
        rows = connection.execute(query.order_by(mail_outbox.c.id).limit(limit)).all()
    sent = failed = 0
    for row in rows:
        claimed = _claim(engine, row.id, now)
        if claimed is None:
            continue  # another server has it
        reference, raw = claimed
        message = message_from_bytes(raw, policy=policy.default)
        try:
            notifier.send(message)
        except Exception as exc:
            failed += 1
            _log.error("a queued %s mail could not be sent: %s", row.kind, type(exc).__name__)
            _finish(
                engine,
                row.id,
                attempts=row.attempts + 1,
                last_error=type(exc).__name__[:100],
                next_attempt_at=engine.clock() + _backoff(row.attempts),
                claimed_until=None,
            )
            continue
        _mark_sent(engine, row, reference, (on_sent or {}).get(row.kind))
        sent += 1
    return DeliveryRound(sent=sent, failed=failed, expired=expired)


def _mark_sent(
    engine: Engine, row: Row[Any, Any, Any], reference: str | None, record: OnSent | None
) -> None:
    """Mark the message sent, its key and ciphertext gone, with what it reports, at once.

    One transaction: a server stopped in between cannot leave a request's answer sent
    but its delivery unrecorded. The report runs in a savepoint: if it fails the mark
    stands alone (logged by type), so a fault in the bookkeeping never sends twice.
    """
    with engine.transaction() as connection:
        _set(
            connection,
            row.id,
            attempts=row.attempts + 1,
            sent_at=engine.clock(),
            wrapped_key=None,
            sealed=None,
            claimed_until=None,
            last_error=None,
        )
        if record is None:
            return
        try:
            with connection.begin_nested():
                record(connection, engine, reference)
        except Exception as exc:
            _log.error("a sent %s mail could not be recorded: %s", row.kind, type(exc).__name__)


class StepQueue:
    """The messages one step stored in the outbox in its transaction, to try at once after.

    A subclass stores its kind of message when called inside the step (with
    :func:`enqueue_on`, appending the outbox id to :attr:`queued`) and names what to
    record once one is sent (:attr:`on_sent`).
    """

    on_sent: ClassVar[Mapping[str, OnSent]] = {}
    what = "a queued mail"
    """How the log names what waits (a kind, never a value)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queued: list[int] = []

    def send(self, notifier: Notifier | None) -> bool:
        """Send now what was queued, if the mail server takes it; whether all of it went.

        What does not go waits in the outbox; what a message reports is recorded only
        once the mail server has taken it, now or when the outbox job sends it later.
        """
        if not self.queued:
            return True
        if notifier is None:
            _log.error("%s waits in the outbox: no mail server is set", self.what)
            return False
        sent = sum(
            deliver_due(self.engine, notifier, only=queued, on_sent=self.on_sent).sent
            for queued in self.queued
        )
        return sent == len(self.queued)
