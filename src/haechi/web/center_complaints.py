"""The privacy center's complaint pages: the form, the receipt, and following it.

Over the same engine calls as ``/api/v1/public/complaints``: the petitioner's items are
collected for the complaints purpose with the consent they ticked (the hash of the
consent text they were shown is its evidence), the intake is limited per source address
and hour, and every accepted form is answered with the same receipt whether or not the
person is already known. A complaint is followed with its number and status key, sent
in a POST body, never in a URL.
"""

from __future__ import annotations

import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from haechi.access.decision import Actor
from haechi.errors import HaechiError, NotFound
from haechi.rights.complaints import MAX_MESSAGE, PURPOSE
from haechi.subjects.models import ConsentEvidence
from haechi.web.center import AcceptLanguage, Lang, Visit, follow_routes
from haechi.web.i18n import environment

__all__ = ["consent_text", "router"]

router = APIRouter(include_in_schema=False)

_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_MAX_ITEM = 10_000
_FORM = "center/complaint_form.html.j2"


def consent_text(visit: Visit) -> str:
    """The consent sentence the form shows, in the visit's language."""
    controller = visit.engine.policy.policy.controller.name.get(visit.lang)
    texts = environment(visit.lang, "html").get_template("center/_texts.html.j2").module
    return str(texts.complaint_consent(controller)).strip()  # type: ignore[attr-defined]


def _items(visit: Visit) -> list[tuple[str, str, bool]]:
    """The complaints purpose's items: name, label, whether required."""
    policy = visit.engine.policy.policy
    purpose = policy.purposes[PURPOSE]
    names = [
        *purpose.items,
        *(name for name in purpose.optional_items if name not in purpose.items),
    ]
    return [
        (name, policy.items[name].label.get(visit.lang), name in purpose.items) for name in names
    ]


def _context(visit: Visit) -> dict[str, object]:
    return {"items": _items(visit), "consent": consent_text(visit), "max_message": MAX_MESSAGE}


@router.get("/privacy/complaints", response_class=HTMLResponse)
def complaint_form(
    request: Request, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """The complaint form."""
    visit = Visit.of(request, lang, accept)
    return visit.render(_FORM, path="/privacy/complaints", context=_context(visit))


@router.post("/privacy/complaints", response_class=HTMLResponse)
async def file_complaint(
    request: Request, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """Take a complaint; the same receipt for everyone."""
    visit = Visit.of(request, lang, accept)
    values: dict[str, object] = {}
    try:
        fields = await visit.posted()
        items: dict[str, object] = {}
        for name, _, required in _items(visit):
            value = fields.text(f"items.{name}", max_length=_MAX_ITEM, required=required)
            if value:
                items[name] = value
        description = fields.text("description", max_length=MAX_MESSAGE, multiline=True)
        agreed = fields.checked("consent", required=True)
        values = {
            **{f"items.{name}": value for name, value in items.items()},
            "description": description,
            "consent": agreed,
        }
        fields.done()
        ip = visit.source_ip
        intake = visit.engine.submit_complaint(
            items=items,
            description=description,
            consent=ConsentEvidence(
                granted=True,
                method="web-form",
                text_hash=hashlib.sha256(consent_text(visit).encode()).hexdigest(),
                source_ip=ip,
            ),
            actor=Actor(name="public", kind="public", purposes=frozenset({PURPOSE}), source_ip=ip),
        )
    except HaechiError as error:
        return visit.refused(
            _FORM, error, path="/privacy/complaints", values=values, context=_context(visit)
        )
    return visit.render(
        "center/complaint_receipt.html.j2",
        path="/privacy/complaints/status",
        status_code=202,
        complaint_id=intake.complaint_id,
        status_token=intake.status_token,
    )


def _complaint_status(visit: Visit, complaint_id: str, token: str) -> HTMLResponse:
    info = visit.engine.complaint_status(complaint_id, token=token, source_ip=visit.source_ip)
    if info is None:
        raise NotFound("no such complaint", field="complaint_id", code="REQUEST_NOT_FOUND")
    return visit.render(
        "center/complaint_status.html.j2",
        path="/privacy/complaints/status",
        complaint={
            "id": info.id,
            "state": info.state.value,
            "received": info.received_at.strftime("%Y-%m-%d %H:%M UTC"),
            "closed": info.closed_at.strftime("%Y-%m-%d %H:%M UTC") if info.closed_at else None,
        },
    )


follow_routes(
    router,
    path="/privacy/complaints/status",
    template="center/complaint_follow.html.j2",
    id_field="complaint_id",
    token_pattern=_TOKEN,
    show=_complaint_status,
)
