"""Mail to people about their requests: the one-time code, and the answer.

Messages go only to an address the engine returned (:class:`CodeMail`, an address on
file; :class:`ResultMail`, the request's verified address). A body holds the request's
id, kind and state, dates, codes and the controller's contacts; the person's own data
travels only as the export attached to the answer of an access request, which is
what they asked for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from email.message import EmailMessage

from sqlalchemy import Connection

from haechi.engine import SYSTEM, Engine
from haechi.mail import Notifier
from haechi.mail.outbox import OnSent, StepQueue, deliver_due, enqueue, enqueue_on
from haechi.policy.schema import Policy
from haechi.rights.models import CodeMail, ResultMail, SubjectExport

__all__ = [
    "CODE",
    "ON_SENT",
    "RESULT",
    "AnswerQueue",
    "ExportRenderer",
    "code_message",
    "deliver_code",
    "deliver_result",
    "result_message",
]

_log = logging.getLogger("haechi.mail")

# Kinds of outbox messages about requests.
CODE = "code"
RESULT = "result"

ExportRenderer = Callable[[SubjectExport, str], str]
"""Renders an export as an HTML page in a language (``haechi.web.render_export``)."""

_TEXT = {
    "ko": {
        "code_subject": "[{controller}] 개인정보 요구 본인 확인 코드",
        "code_body": (
            "요구 번호 {request_id}의 본인 확인 코드는 {code} 입니다.\n"
            "{minutes}분 동안 유효합니다. 요구하지 않으셨다면 이 메일을 무시하십시오."
        ),
        "result_subject": "[{controller}] 개인정보 요구 {request_id} 처리 결과",
        "state": "처리 상태: {state}",
        "kind": "요구 종류: {kind}",
        "refused": "거절 사유: {reason}",
        "until": "보존 기한: {until}",
        "postponed": "연기 사유: {reason}, 새 처리 기한: {due}",
        "object": "이의가 있으시면 개인정보 보호책임자({officer}) 또는 다음 기관에 문의하십시오:",
        "attached": "요구하신 개인정보 열람 결과를 첨부합니다 (JSON, HTML).",
    },
    "en": {
        "code_subject": "[{controller}] Code to confirm your personal-information request",
        "code_body": (
            "The code confirming request {request_id} is {code}.\n"
            "It is valid for {minutes} minutes. If you did not make this request, ignore this mail."
        ),
        "result_subject": "[{controller}] Your personal-information request {request_id}",
        "state": "State: {state}",
        "kind": "Kind of request: {kind}",
        "refused": "Reason for refusal: {reason}",
        "until": "Kept until: {until}",
        "postponed": "Reason for postponing: {reason}; new due date: {due}",
        "object": "To object, write to the privacy officer ({officer}) or turn to:",
        "attached": "The personal information you asked to see is attached (JSON and HTML).",
    },
}


def _texts(lang: str) -> dict[str, str]:
    return _TEXT["en" if lang == "en" else "ko"]


def code_message(mail: CodeMail, *, policy: Policy, sender: str, minutes: int) -> EmailMessage:
    """The one-time code for a web request."""
    text = _texts(mail.lang)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.address
    message["Subject"] = text["code_subject"].format(
        controller=policy.controller.name.get(mail.lang)
    )
    message.set_content(
        text["code_body"].format(request_id=mail.request_id, code=mail.code, minutes=minutes)
    )
    return message


def result_message(
    mail: ResultMail, *, policy: Policy, sender: str, renderer: ExportRenderer | None = None
) -> EmailMessage:
    """The answer to a request: its state, and the export for an access request."""
    text = _texts(mail.lang)
    lang = "en" if mail.lang == "en" else "ko"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.address
    message["Subject"] = text["result_subject"].format(
        controller=policy.controller.name.get(lang), request_id=mail.request_id
    )
    lines = [text["kind"].format(kind=mail.kind), text["state"].format(state=mail.state)]
    outcome = mail.outcome
    if mail.state == "refused":
        lines.append(text["refused"].format(reason=outcome.get("refusal_reason", "")))
    for kept in outcome.get("kept", []):
        purpose = policy.purposes[kept["purpose"]]
        statute = purpose.legal_hold.statute_text(lang) if purpose.legal_hold else ""
        lines.append(f"- {purpose.label.get(lang)}: {statute}")
        lines.append("  " + text["until"].format(until=kept["until"][:10]))
    for destroyed in outcome.get("destroyed", []):
        lines.append(f"- {destroyed['purpose']}: {destroyed['certificate_id']}")
    if mail.state == "postponed":
        lines.append(
            text["postponed"].format(
                reason=outcome.get("postpone_reason", ""), due=outcome.get("due_at", "")
            )
        )
    if mail.state in ("refused", "postponed"):
        lines += ["", text["object"].format(officer=policy.privacy_officer.email)]
        lines += [
            f"- {remedy.name.get(lang)}: {remedy.site} ({remedy.phone})"
            for remedy in policy.remedies
        ]
    if mail.export is not None:
        lines += ["", text["attached"]]
    message.set_content("\n".join(lines))
    if mail.export is not None:
        message.add_attachment(
            json.dumps(mail.export.data, ensure_ascii=False, indent=2).encode(),
            maintype="application",
            subtype="json",
            filename=f"export-{mail.request_id}.json",
        )
        if renderer is not None:
            message.add_attachment(
                renderer(mail.export, lang),
                subtype="html",
                filename=f"export-{mail.request_id}.html",
            )
    return message


def deliver_code(engine: Engine, notifier: Notifier | None, mail: CodeMail) -> None:
    """Queue a one-time code and send it now if the mail server takes it.

    A code the server does not take stays in the outbox (:mod:`haechi.mail.outbox`)
    until it does, or until the code expires; a failure is logged by type only.
    """
    ttl = engine.request_rules.code_ttl
    message = code_message(
        mail,
        policy=engine.policy.policy,
        sender=engine.settings.mail.sender,
        minutes=int(ttl.total_seconds() // 60),
    )
    queued = enqueue(
        engine, message, kind=CODE, reference=mail.request_id, expires_at=engine.clock() + ttl
    )
    if notifier is None:
        _log.error("a request code waits in the outbox: no mail server is set")
        return
    deliver_due(engine, notifier, only=queued)


def _delivered(connection: Connection, engine: Engine, request_id: str | None) -> None:
    if request_id is not None:
        engine.record_delivery_on(connection, request_id, actor=SYSTEM)


ON_SENT: dict[str, OnSent] = {RESULT: _delivered}
"""What the outbox records once a request's mail went: an answer's delivery."""


class AnswerQueue(StepQueue):
    """Queues a request's answer in the outbox inside the step that decides it.

    Passed as ``queue=`` to ``complete_request``, ``refuse_request`` and
    ``postpone_request`` (an :data:`~haechi.rights.models.AnswerHook`): the answer
    commits with the request's new state, so a server killed right after the step
    still holds the answer, and the outbox job sends it. :meth:`send` then tries
    at once what was queued.
    """

    on_sent = ON_SENT
    what = "a request answer"

    def __init__(self, engine: Engine, renderer: ExportRenderer | None = None) -> None:
        super().__init__(engine)
        self.renderer = renderer

    def __call__(self, connection: Connection, mail: ResultMail) -> None:
        """Store the answer sealed in the caller's transaction."""
        engine = self.engine
        message = result_message(
            mail,
            policy=engine.policy.policy,
            sender=engine.settings.mail.sender,
            renderer=self.renderer,
        )
        self.queued.append(
            enqueue_on(connection, engine, message, kind=RESULT, reference=mail.request_id)
        )


def deliver_result(
    engine: Engine,
    notifier: Notifier | None,
    mail: ResultMail,
    renderer: ExportRenderer | None = None,
) -> bool:
    """Queue a request's answer (in a transaction of its own) and send it now if it can.

    Surfaces that carry a request out pass an :class:`AnswerQueue` to the step
    instead, so that the answer commits with it.
    """
    queue = AnswerQueue(engine, renderer)
    with engine.transaction() as connection:
        queue(connection, mail)
    return queue.send(notifier)
