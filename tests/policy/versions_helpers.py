"""Policy files for version tests: the demo policy with one purpose's terms changed."""

from __future__ import annotations

import re
from datetime import timedelta

from haechi import Engine
from haechi.access.decision import Actor
from haechi.engine import PublishedVersion
from haechi.policy import LoadedPolicy, demo_policy_text, parse_policy
from haechi.subjects.service import ConsentEvidence

INTERESTS = '[items.interests]\nlabel = { ko = "관심 분야", en = "Interests" }\nkind = "text"\n\n'
OFFICER = Actor(name="officer", kind="staff", purposes=frozenset(), role="privacy_officer")
DOCUMENTS = {
    "ko": '<html lang="ko"><body>\n<h1>v</h1></body></html>',
    "en": '<html lang="en"><body>\n<h1>v</h1></body></html>',
}


def variant(
    label: str,
    *,
    purpose: str = "marketing",
    retention: str | None = None,
    add_item: bool = False,
    drop_item: str | None = None,
    basis: str | None = None,
) -> LoadedPolicy:
    """The demo policy, labelled ``label``, with ``purpose`` changed as asked."""
    text = demo_policy_text().replace('version = "2026-11-28"', f'version = "{label}"', 1)
    head = f"[purposes.{purpose}]\n"
    start = text.index(head)
    end = text.index("\n\n", start)
    block = text[start:end]
    if retention is not None:
        block = re.sub(r'retention = "[^"]+"', f'retention = "{retention}"', block, count=1)
    if add_item:
        block += '\noptional_items = ["interests"]'
    if drop_item is not None:
        block = block.replace(f', "{drop_item}"', "")
    if basis is not None:
        block = re.sub(r'legal_basis = "[^"]+"', f'legal_basis = "{basis}"', block, count=1)
    text = text[:start] + block + text[end:]
    if add_item:
        text = text.replace("[items.name]\n", INTERESTS + "[items.name]\n", 1)
    return parse_policy(text)


def publish(engine: Engine, loaded: LoadedPolicy, *, days: float | None = None) -> PublishedVersion:
    """Publish ``loaded`` ``days`` from the engine's now (at once when None)."""
    effective = None if days is None else engine.clock() + timedelta(days=days)
    return engine.publish_policy(loaded, effective_at=effective, documents=DOCUMENTS, actor=OFFICER)


def consent(granted: bool = True) -> ConsentEvidence:
    return ConsentEvidence(granted=granted, method="web-form", source_ip="203.0.113.5")
