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

from haechi.engine import SYSTEM, Engine
from haechi.mail import Notifier
from haechi.policy.schema import Policy
from haechi.rights.models import CodeMail, ResultMail, SubjectExport

__all__ = [
    "ExportRenderer",
    "code_message",
    "deliver_code",
    "deliver_result",
    "result_message",
]

_log = logging.getLogger("haechi.mail")

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
    """Mail a one-time code; a failure is logged by its type only (never the address)."""
    if notifier is None:
        _log.error("a request code could not be mailed: no mail server is set")
        return
    minutes = int(engine.request_rules.code_ttl.total_seconds() // 60)
    message = code_message(
        mail, policy=engine.policy.policy, sender=engine.settings.mail.sender, minutes=minutes
    )
    try:
        notifier.send(message)
    except Exception as exc:
        _log.error("a request code could not be mailed: %s", type(exc).__name__)


def deliver_result(
    engine: Engine,
    notifier: Notifier | None,
    mail: ResultMail,
    renderer: ExportRenderer | None = None,
) -> bool:
    """Mail a request's answer, then record it as delivered; whether it went."""
    if notifier is None:
        _log.error("a request answer could not be mailed: no mail server is set")
        return False
    message = result_message(
        mail, policy=engine.policy.policy, sender=engine.settings.mail.sender, renderer=renderer
    )
    try:
        notifier.send(message)
    except Exception as exc:
        _log.error("a request answer could not be mailed: %s", type(exc).__name__)
        return False
    engine.record_delivery(mail.request_id, actor=SYSTEM)
    return True
