"""Policy versions: the published ones and their states, a diff, and publishing.

Publishing announces the installation's policy file as the next version, taking
effect no sooner than the notice period the file declares (the very first version
may take effect at once); subjects whose consent it changes are mailed after the
answer, when mail is set up. Only the privacy officer publishes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse

from haechi.engine import Engine
from haechi.mail.policy_notice import mail_policy_notices
from haechi.policy.versions import EFFECTIVE_ZONE, diff_policies, parse_effective, text_diff
from haechi.web.console import rules
from haechi.web.console.fields import Line
from haechi.web.console.pages import ConsoleRoute, page, redirect
from haechi.web.console.requests import notifier_of
from haechi.web.console.session import Guard, Viewer, engine_of
from haechi.web.i18n import LANGUAGES
from haechi.web.policy_document import render_policy

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Reader = Annotated[Viewer, Depends(Guard("console_policy", rules.POLICY_READERS))]
Officer = Annotated[Viewer, Depends(Guard("console_policy_publish", rules.OFFICER))]
Version = Annotated[int | None, Query(ge=1, le=1_000_000)]
_MAX_DIFF = 200_000


def _documents(engine: Engine) -> dict[str, str]:
    loaded = engine.versions.file_policy
    return {
        lang: render_policy(loaded.policy, engine.settings, lang=lang, fmt="html")
        for lang in LANGUAGES
    }


@router.get("/policy", response_class=HTMLResponse)
def versions(
    request: Request, viewer: Reader, old: Version = None, new: Version = None
) -> HTMLResponse:
    """Every published version; a diff of two of them, or of the latest and the file."""
    engine = engine_of(request)
    in_force, _ = engine.policy_status()
    listed = engine.published_versions()
    file_policy = engine.versions.file_policy
    latest = listed[-1] if listed else None
    unpublished = latest is None or all(v.content_hash != file_policy.content_hash for v in listed)
    changes = text = None
    label = ""
    if old is not None and new is not None:
        _, before, old_documents = engine.published_version(old)
        _, after, new_documents = engine.published_version(new)
        changes = diff_policies(before.policy, after.policy)
        text = text_diff(
            old_documents[viewer.lang],
            new_documents[viewer.lang],
            old_name=f"version {old}",
            new_name=f"version {new}",
        )
        label = f"{old} → {new}"
    elif latest is not None and unpublished:
        _, before, old_documents = engine.published_version(latest.n)
        changes = diff_policies(before.policy, file_policy.policy)
        text = text_diff(
            old_documents[viewer.lang],
            _documents(engine)[viewer.lang],
            old_name=f"version {latest.n}",
            new_name="policy file",
        )
        label = f"{latest.n} → file"
    return page(
        request,
        viewer,
        "policy.html.j2",
        versions=listed,
        in_force=in_force,
        now=engine.clock(),
        zone=EFFECTIVE_ZONE,
        unpublished=unpublished,
        file_label=file_policy.policy.version,
        notice_days=file_policy.policy.notice.days,
        first=not listed,
        changes=changes.as_dict() if changes else None,
        reconsent=changes.reconsent_purposes if changes else (),
        diff_text=text[:_MAX_DIFF] if text else None,
        diff_label=label,
        may_publish=viewer.role in rules.OFFICER,
    )


@router.post("/policy/publish")
def publish(
    request: Request,
    viewer: Officer,
    background: BackgroundTasks,
    effective: Annotated[Line, Form(max_length=40)] = "",
) -> Response:
    """Announce the policy file as the next version, effective at the date given."""
    engine = engine_of(request)
    effective_at = parse_effective(effective) if effective.strip() else None
    version = engine.publish_policy(
        engine.versions.file_policy,
        effective_at=effective_at,
        documents=_documents(engine),
        actor=viewer.staff,
    )
    notifier = notifier_of(request)
    if notifier is not None:
        background.add_task(mail_policy_notices, engine, notifier, version.n)
    return redirect("/console/policy")
