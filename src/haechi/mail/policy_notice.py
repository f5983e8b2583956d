"""Policy-change notices: the subjects a new version asks for fresh consent, mailed at announcement.

One message per subject, in Korean and English: which purposes change, how (items
added, a longer retention, a new legal basis or use), from when, and how to consent.
The address is the subject's own email item, read for this purpose only: a use by the
system actor ``policy-notice``, logged like any other with the notice as its reason.
Item values never appear in a message; only the addressee's address heads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from haechi.engine import Engine, PublishedVersion
from haechi.mail import Notifier
from haechi.mail.contacts import bilingual_message, read_address
from haechi.policy.schema import Policy
from haechi.policy.versions import EFFECTIVE_ZONE, PurposeChange

__all__ = ["NOTICE_ACTOR", "NoticeResult", "mail_policy_notices", "notice_message"]

NOTICE_ACTOR = "policy-notice"

_BASIS = {
    "consent": ("동의", "consent"),
    "law": ("법령", "law"),
    "public_duty": ("공공기관의 법령상 업무", "a public body's statutory duty"),
    "contract": ("계약의 체결·이행", "a contract"),
    "vital_interest": ("생명·신체·재산의 이익", "vital interests"),
    "legitimate_interest": ("정당한 이익", "legitimate interests"),
}


@dataclass(frozen=True)
class NoticeResult:
    """How many subjects were mailed, and how many had no address usable for it."""

    mailed: int
    unreachable: int


def _lines(policy: Policy, change: PurposeChange, lang: str) -> list[str]:
    ko = lang == "ko"
    purpose = policy.purposes[change.purpose]
    lines = [f"- {purpose.label.get(lang)}"]
    if change.added_items:
        labels = ", ".join(policy.items[name].label.get(lang) for name in change.added_items)
        lines.append(f"  {'추가되는 항목' if ko else 'Items added'}: {labels}")
    if change.retention_grows and change.retention is not None:
        old, new = change.retention
        lines.append(f"  {'보유기간' if ko else 'Retention'}: {old} → {new}")
    if change.legal_basis is not None:
        old, new = (_BASIS[basis][0 if ko else 1] for basis in change.legal_basis)
        lines.append(f"  {'처리 근거' if ko else 'Legal basis'}: {old} → {new}")
    if change.description_changed:
        lines.append(
            "  " + ("이용 목적이 바뀝니다: " if ko else "What the data is used for changes: ")
        )
        lines.append(f"  {purpose.description.get(lang)}")
    return lines


def notice_message(
    *,
    policy: Policy,
    version: PublishedVersion,
    changes: Sequence[PurposeChange],
    sender: str,
    recipient: str,
) -> EmailMessage:
    """The notice to one subject: what changes for their data and how to consent."""
    day = version.effective_at.astimezone(EFFECTIVE_ZONE).strftime("%Y-%m-%d %H:%M")
    officer = policy.privacy_officer
    site = policy.controller.website
    where = f"{site.rstrip('/')}/privacy/versions/{version.n}" if site else None
    ko = [
        f"{policy.controller.name.ko}의 개인정보 처리방침이 {day} (한국 시간)부터 바뀝니다 "
        f"(버전 {version.n}).",
        "다음 목적의 처리에는 새로 동의가 필요합니다:",
        *(line for change in changes for line in _lines(policy, change, "ko")),
        "",
        "동의하시기 전까지는 시행일부터 새 조건에 따른 처리를 하지 않습니다. 이전에 동의하신 "
        "범위의 처리는 그대로 이어집니다.",
        f"동의하시려면 서비스의 동의 화면을 이용하시거나 개인정보 보호책임자에게 연락해 주십시오: "
        f"{officer.email}, {officer.phone}.",
    ]
    en = [
        f"{policy.controller.name.en}'s privacy policy changes on {day} (Korea time) "
        f"(version {version.n}).",
        "Processing for these purposes needs your fresh consent:",
        *(line for change in changes for line in _lines(policy, change, "en")),
        "",
        "Until you consent, nothing is processed under the new terms from that date; what "
        "you agreed to before goes on as before.",
        f"To consent, use the consent page of our service or contact our privacy officer: "
        f"{officer.email}, {officer.phone}.",
    ]
    if where:
        ko.append(f"변경된 처리방침: {where}")
        en.append(f"The new policy: {where}")
    return bilingual_message(
        sender=sender,
        recipient=recipient,
        subject=(
            f"[{policy.controller.name.ko}] 개인정보 처리방침 변경 안내 / "
            "Changes to our privacy policy"
        ),
        ko=ko,
        en=en,
    )


def mail_policy_notices(engine: Engine, notifier: Notifier, n: int) -> NoticeResult:
    """Mail every subject version ``n`` asks for fresh consent; count who had no address."""
    version, loaded, _ = engine.published_version(n)
    by_subject: dict[str, dict[str, PurposeChange]] = {}
    for target in engine.reconsent_targets(n):
        by_subject.setdefault(target.subject_id, {})[target.purpose] = target.change
    mailed = unreachable = 0
    for subject_id, changes in by_subject.items():
        address = read_address(
            engine,
            subject_id,
            actor_name=NOTICE_ACTOR,
            preferred=set(changes),
            reason=f"policy change notice, version {n}",
        )
        if address is None:
            unreachable += 1
            continue
        notifier.send(
            notice_message(
                policy=loaded.policy,
                version=version,
                changes=[changes[name] for name in sorted(changes)],
                sender=engine.settings.mail.sender,
                recipient=address,
            )
        )
        mailed += 1
    return NoticeResult(mailed, unreachable)
