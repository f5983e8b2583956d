"""A complaint's result by mail: stored sealed in the outbox by the step, then sent.

The result goes only to the petitioner's email the handler confirmed, read for it as
an audited use (:class:`~haechi.rights.complaints.ResultMail`). The body holds the
complaint's id, the result the handler wrote and the privacy officer's contacts.
The complaint is recorded as delivered (``delivered_at``) once the SMTP server has
taken the mail, and not before.
"""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import Connection

from haechi.engine import SYSTEM, Engine
from haechi.mail.outbox import OnSent, StepQueue, enqueue_on
from haechi.rights.complaints import MAIL_KIND, ResultMail

__all__ = ["ON_SENT", "ResultQueue", "result_message"]


def result_message(mail: ResultMail, *, engine: Engine) -> EmailMessage:
    """The mail telling a petitioner the result: the complaint id and the result only."""
    officer = engine.policy.policy.privacy_officer
    message = EmailMessage()
    message["From"] = engine.settings.mail.sender
    message["To"] = mail.address
    message["Subject"] = f"[민원/Complaint] {mail.complaint_id}"
    lines = [
        f"민원 {mail.complaint_id} 처리 결과를 알려 드립니다. / "
        f"The result of your complaint {mail.complaint_id}:",
        "",
        mail.result,
        "",
        f"{officer.email} · {officer.phone}",
    ]
    message.set_content("\n".join(lines))
    return message


def _delivered(connection: Connection, engine: Engine, complaint_id: str | None) -> None:
    if complaint_id is not None:
        engine.record_complaint_delivery_on(connection, complaint_id, actor=SYSTEM)


ON_SENT: dict[str, OnSent] = {MAIL_KIND: _delivered}
"""What the outbox records once a complaint's result went: the complaint's delivery."""


class ResultQueue(StepQueue):
    """Queues a complaint's result in the outbox inside the step that closes (or re-sends) it.

    Passed as ``queue=`` to ``close_complaint`` and ``deliver_complaint_result`` (a
    :data:`~haechi.rights.complaints.ResultHook`): the result mail commits with the
    complaint's new state; :meth:`send` then tries it at once, and the outbox job
    sends it later if the mail server did not take it.
    """

    on_sent = ON_SENT
    what = "a complaint result"

    def __call__(self, connection: Connection, mail: ResultMail) -> None:
        """Store the result mail sealed in the caller's transaction."""
        message = result_message(mail, engine=self.engine)
        self.queued.append(
            enqueue_on(
                connection, self.engine, message, kind=MAIL_KIND, reference=mail.complaint_id
            )
        )
