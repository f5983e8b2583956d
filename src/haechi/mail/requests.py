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
import queue
import secrets
import threading
import time
import weakref
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
    "CodeCourier",
    "ExportRenderer",
    "code_message",
    "deliver_code",
    "deliver_result",
    "drain_couriers",
    "post_code",
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


class _Undone(Exception):
    """Raised inside the decoy's transaction to roll it back."""


def _decoy(engine: Engine, lang: str) -> None:
    """The work of :func:`deliver_code` for an address not on file, undone at the end.

    A message like a code's is rendered, sealed and stored, and the transaction rolled
    back: the server spends about the same time on a request whatever the address.
    """
    ttl = engine.request_rules.code_ttl
    mail = CodeMail(
        request_id=str(secrets.randbelow(10**12)),
        address="nobody@invalid.invalid",
        code=f"{secrets.randbelow(10**6):06d}",
        lang=lang,
        expires_at=engine.clock() + ttl,
    )
    message = code_message(
        mail,
        policy=engine.policy.policy,
        sender=engine.settings.mail.sender,
        minutes=int(ttl.total_seconds() // 60),
    )
    try:
        with engine.transaction() as connection:
            enqueue_on(connection, engine, message, kind=CODE, expires_at=mail.expires_at)
            raise _Undone
    except _Undone:
        pass


class CodeCourier:
    """Sends one-time codes from a thread of its own, apart from the requests' replies.

    A request answers the same, known address or not; the code it mails must not make
    the reply, or the next request on the same connection, any later. So the mail is
    handed to this thread (a bounded queue), and a request for an address not on file
    hands it the same work, undone (:func:`_decoy`). When the queue is full a code is
    delivered in the caller's thread (never lost), and a decoy dropped.
    """

    def __init__(self, engine: Engine, notifier: Notifier | None, *, capacity: int = 1000):
        self._engine = engine
        self._notifier = notifier
        self._jobs: queue.Queue[tuple[CodeMail | None, str] | None] = queue.Queue(capacity)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the courier's thread."""
        self._thread = threading.Thread(target=self._run, name="haechi-codes", daemon=True)
        self._thread.start()
        _COURIERS.add(self)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every code handed on so far was delivered; False at the timeout."""
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, then stop the thread."""
        if self._thread is None:
            return
        self._jobs.put(None)
        self._thread.join(timeout)
        self._thread = None

    def post(self, mail: CodeMail | None, *, lang: str) -> None:
        """Deliver ``mail``; with None (an address not on file), do the same work undone."""
        if self._thread is None:
            self._deliver(mail, lang)
            return
        try:
            self._jobs.put_nowait((mail, lang))
        except queue.Full:
            if mail is not None:  # a decoy is dropped; a code is never lost
                self._deliver(mail, lang)

    def _deliver(self, mail: CodeMail | None, lang: str) -> None:
        try:
            if mail is None:
                _decoy(self._engine, lang)
            else:
                deliver_code(self._engine, self._notifier, mail)
        except Exception as exc:  # the code stays in the outbox if it was stored
            _log.error("a request code was not handed on: %s", type(exc).__name__)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                self._deliver(*job)
            finally:
                self._jobs.task_done()


_COURIERS: weakref.WeakSet[CodeCourier] = weakref.WeakSet()


def drain_couriers(timeout: float = 10.0) -> None:
    """Wait until every running courier of this process delivered what it was handed."""
    for courier in list(_COURIERS):
        courier.drain(timeout)


def post_code(state: object, engine: Engine, mail: CodeMail | None, *, lang: str) -> None:
    """Hand ``mail`` (None: an address not on file) to the application's courier.

    ``state`` is the application's state; without a running courier (an application
    never started) the work is done in the caller's thread.
    """
    courier = getattr(state, "codes", None)
    if not isinstance(courier, CodeCourier):
        courier = CodeCourier(engine, getattr(state, "notifier", None))
    courier.post(mail, lang=lang)


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
