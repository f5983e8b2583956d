"""Breach notices to the affected people (PIPA Art. 34(1)), in Korean and English.

One message per person, naming what the law asks: which of their items were read,
when, how it happened, what the controller is doing (the containment recorded on the
incident), what they can do, and whom to contact (the policy's privacy officer). The
text is fixed: no staff note and no value of the person's appears in it, only the
addressee's address heads it.

A run sends the notices still pending, marks each one ``sent`` only once the mail
server accepted it, and can be stopped and run again: it carries on where it ended.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from haechi.access.decision import Actor
from haechi.engine import Engine
from haechi.errors import ConfigurationError
from haechi.incidents import Containment
from haechi.mail import Notifier
from haechi.mail.contacts import bilingual_message, read_address
from haechi.policy.schema import Policy

__all__ = ["INCIDENT_NOTICE_ACTOR", "NoticeTally", "incident_notice", "mail_incident_notices"]

INCIDENT_NOTICE_ACTOR = "incident-notice"
_ZONE = ZoneInfo("Asia/Seoul")

_MEASURES = {
    "token_revoked": (
        "유출에 이용된 접근 토큰을 폐기했습니다.",
        "The access token that was misused has been revoked.",
    ),
    "account_disabled": (
        "유출에 이용된 계정의 접근을 차단했습니다.",
        "The account that was misused has been closed.",
    ),
    "keys_rotated": (
        "암호 키를 교체했습니다.",
        "Encryption keys have been replaced.",
    ),
    "other": (
        "추가 보호 조치를 취했습니다.",
        "Further protective measures have been taken.",
    ),
}


@dataclass(frozen=True)
class NoticeTally:
    """What one run did, and what is left."""

    sent: int
    unreachable: int
    left: int


def _when(moment: str | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromisoformat(moment).astimezone(_ZONE).strftime("%Y-%m-%d %H:%M")


def incident_notice(
    *,
    policy: Policy,
    reads: dict[str, Any],
    containment: list[Containment],
    sender: str,
    recipient: str,
) -> EmailMessage:
    """The notice to one person: their items read, when, what is done, whom to contact."""
    officer = policy.privacy_officer
    labels = {
        lang: ", ".join(
            policy.items[name].label.get(lang) for name in reads["items"] if name in policy.items
        )
        or "-"
        for lang in ("ko", "en")
    }
    period = f"{_when(reads['first'])} – {_when(reads['last'])}"
    kinds = sorted({step.kind for step in containment})
    measures_ko = [f"- {_MEASURES[kind][0]}" for kind in kinds] or ["- 원인을 조사하고 있습니다."]
    measures_en = [f"- {_MEASURES[kind][1]}" for kind in kinds] or [
        "- We are investigating the cause."
    ]
    ko = [
        f"{policy.controller.name.ko}에서 관리하는 귀하의 개인정보가 권한 없이 열람된 사실을 "
        "알려드립니다 (개인정보 보호법 제34조).",
        "",
        f"유출된 항목: {labels['ko']}",
        f"유출 시점: {period} (한국 시간)",
        "유출 경위: 도용된 계정 또는 허가되지 않은 접속 경로를 통해 열람되었습니다.",
        "",
        "저희가 취한 조치:",
        *measures_ko,
        "",
        "피해를 줄이기 위해: 저희를 사칭하는 연락이나 메일에 주의하시고, 같은 비밀번호를 쓰는 "
        "다른 서비스의 비밀번호를 바꾸어 주십시오.",
        f"문의 및 피해 신고: 개인정보 보호책임자 {officer.name.ko}, "
        f"{officer.email}, {officer.phone}",
    ]
    en = [
        f"Personal data of yours held by {policy.controller.name.en} was read without "
        "authorisation (Personal Information Protection Act, Art. 34).",
        "",
        f"Items concerned: {labels['en']}",
        f"When: {period} (Korea time)",
        "How: through a misused account or an unauthorised connection.",
        "",
        "What we have done:",
        *measures_en,
        "",
        "To limit any harm: be wary of calls or mail claiming to be from us, and change the "
        "password of other services where you use the same one.",
        f"Questions and reports of harm: our privacy officer {officer.name.en}, "
        f"{officer.email}, {officer.phone}",
    ]
    return bilingual_message(
        sender=sender,
        recipient=recipient,
        subject=(
            f"[{policy.controller.name.ko}] 개인정보 유출 통지 / Notice of a personal data breach"
        ),
        ko=ko,
        en=en,
    )


def mail_incident_notices(
    engine: Engine,
    notifier: Notifier,
    incident_id: str,
    *,
    actor: Actor,
    retry: bool = False,
    limit: int | None = None,
    started: Callable[[int], None] | None = None,
    advanced: Callable[[], None] | None = None,
) -> NoticeTally:
    """Send the incident's pending notices (up to ``limit``); each send recorded as it goes.

    ``retry`` also tries again the people who had no address last time. ``started``
    is told how many this run will try, ``advanced`` after each (a progress bar).
    """
    run = engine.begin_notices(incident_id, actor=actor, retry=retry)
    chosen = run.pending if limit is None else run.pending[:limit]
    policy = engine.policy.policy
    sent = unreachable = 0
    if started is not None:
        started(len(chosen))
    try:
        for notice in chosen:
            address = read_address(
                engine,
                notice.subject_id,
                actor_name=INCIDENT_NOTICE_ACTOR,
                preferred=notice.reads["purposes"],
                reason=f"breach notice, incident {run.incident.id}",
            )
            if address is None:
                engine.notice_done(run.incident.id, notice.n, state="unreachable", actor=actor)
                unreachable += 1
            else:
                message = incident_notice(
                    policy=policy,
                    reads=notice.reads,
                    containment=run.containment,
                    sender=engine.settings.mail.sender,
                    recipient=address,
                )
                try:
                    notifier.send(message)
                except (smtplib.SMTPException, OSError) as failure:
                    raise ConfigurationError(
                        f"the mail server did not take a notice ({type(failure).__name__}); "
                        f"{sent} sent in this run, the rest stay pending: run again to resume"
                    ) from None
                engine.notice_done(run.incident.id, notice.n, state="sent", actor=actor)
                sent += 1
            if advanced is not None:
                advanced()
    finally:
        after = engine.end_notices(run.incident.id, actor=actor)
    return NoticeTally(sent, unreachable, after.notices["pending"])
