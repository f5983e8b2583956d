"""Notices to a person: where they go (their own email item, read as a logged use), and their form.

The address is read for the notice only, by a system actor of the notice's own name
granted the purpose that holds it: a use like any other, logged with the notice as
its reason. A subject with no live email item has no address (None).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from email.message import EmailMessage

from haechi.access.decision import Actor
from haechi.engine import Engine
from haechi.errors import AccessDenied, NotFound

__all__ = ["bilingual_message", "read_address"]


def read_address(
    engine: Engine, subject_id: str, *, actor_name: str, preferred: Collection[str], reason: str
) -> str | None:
    """The subject's email, read under a purpose that holds it (``preferred`` ones first)."""
    contacts = sorted(engine.notice_contacts(subject_id), key=lambda pair: pair[0] not in preferred)
    for purpose, item in contacts:
        actor = Actor(name=actor_name, kind="system", purposes=frozenset({purpose}))
        try:
            values = engine.use(
                actor=actor, subject_id=subject_id, purpose=purpose, items=[item], reason=reason
            )
        except (AccessDenied, NotFound):
            continue
        if item in values:
            return values[item]
    return None


def bilingual_message(
    *, sender: str, recipient: str, subject: str, ko: Sequence[str], en: Sequence[str]
) -> EmailMessage:
    """One plain-text message: the Korean text, a rule, then the English text."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content("\n".join([*ko, "", "—", "", *en]) + "\n")
    return message
