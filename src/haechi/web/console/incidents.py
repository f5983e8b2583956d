"""Incidents: the breach register, one incident, and the officer's steps on it.

The same engine calls as ``/api/v1/incidents``: the privacy officer and auditors read
the register, an incident and its proofs; only the officer opens, sends notices,
records containment, prepares the regulator's report and closes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime

from haechi.errors import Conflict
from haechi.incidents.containment import CONTAINMENT_KINDS
from haechi.incidents.scope import MAX_TEXT, MAX_TITLE
from haechi.mail.incidents import mail_incident_notices
from haechi.web.console import rules
from haechi.web.console.fields import Line, Text
from haechi.web.console.pages import ConsoleRoute, page, redirect
from haechi.web.console.requests import ID, notifier_of
from haechi.web.console.session import Guard, Viewer, engine_of
from haechi.web.incident_report import render_regulator_report
from haechi.web.pages import html_response

__all__ = ["NOTICE_BATCH", "router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Reader = Annotated[Viewer, Depends(Guard("console_incidents", rules.INCIDENT_READERS))]
Officer = Annotated[Viewer, Depends(Guard("console_incident_act", rules.OFFICER))]
IncidentPath = Annotated[str, Path(min_length=1, max_length=36, pattern=ID)]
#: the notices one press sends; pressing again (or htmx repeating it) sends the next
NOTICE_BATCH = 50
_PROOFS = 200
_LISTED = 100


@router.get("/incidents", response_class=HTMLResponse)
def register(request: Request, viewer: Reader) -> HTMLResponse:
    """The register, newest first, with each deadline and the notices sent and left."""
    engine = engine_of(request)
    listed = engine.incidents(actor=viewer.staff)[:_LISTED]
    return page(
        request,
        viewer,
        "incidents.html.j2",
        # The titles are sealed with the details: each opened for the page (bounded).
        incidents=[engine.incident(one.id, actor=viewer.staff) for one in listed],
        capped=len(listed) >= _LISTED,
        may_act=viewer.role in rules.OFFICER,
        max_title=MAX_TITLE,
        max_text=MAX_TEXT,
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def detail(request: Request, viewer: Reader, incident_id: IncidentPath) -> HTMLResponse:
    """One incident: counts by purpose and item, thresholds, containment, notices."""
    engine = engine_of(request)
    return page(
        request,
        viewer,
        "incident.html.j2",
        item=engine.incident(incident_id, actor=viewer.staff),
        kinds=CONTAINMENT_KINDS,
        may_act=viewer.role in rules.OFFICER,
        max_text=MAX_TEXT,
    )


@router.get("/incidents/{incident_id}/proofs", response_class=HTMLResponse)
def proofs(request: Request, viewer: Reader, incident_id: IncidentPath) -> HTMLResponse:
    """Inclusion proofs of the incident's sealed events, each checked against its head."""
    found, unsealed = engine_of(request).incident_proofs(incident_id, actor=viewer.staff)
    return page(
        request,
        viewer,
        "incident_proofs.html.j2",
        incident_id=incident_id,
        proofs=[(proof, proof.verify()) for proof in found[:_PROOFS]],
        unsealed=unsealed,
        capped=len(found) > _PROOFS,
    )


def _back(incident_id: str) -> Response:
    return redirect(f"/console/incidents/{incident_id}")


@router.post("/incidents")
def open_incident(
    request: Request,
    viewer: Officer,
    title: Annotated[Line, Form(min_length=1, max_length=MAX_TITLE)],
    aware_at: Annotated[AwareDatetime, Form()],
    start: Annotated[AwareDatetime, Form(alias="from")],
    end: Annotated[AwareDatetime, Form(alias="to")],
    actors: Annotated[Line, Form(max_length=2000)] = "",
    networks: Annotated[Line, Form(max_length=2000)] = "",
    circumstances: Annotated[Text, Form(max_length=MAX_TEXT)] = "",
    outside_access: Annotated[bool, Form()] = False,
) -> Response:
    """Open an incident; actors and networks are comma-separated (the engine bounds each)."""
    incident = engine_of(request).open_incident(
        title=title,
        aware_at=aware_at,
        start=start,
        end=end,
        actors=_listed(actors),
        networks=_listed(networks),
        circumstances=circumstances,
        outside_access=outside_access,
        actor=viewer.staff,
    )
    return _back(incident.id)


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@router.post("/incidents/{incident_id}/notify", response_class=HTMLResponse)
def notify(request: Request, viewer: Officer, incident_id: IncidentPath) -> Response:
    """Send the next batch of pending notices; htmx repeats it while some are left."""
    engine = engine_of(request)
    engine.incident(incident_id, actor=viewer.staff)  # an unknown incident is 404 first
    notifier = notifier_of(request)
    if notifier is None:
        raise Conflict("mail is not configured", code="MAIL_DISABLED")
    tally = mail_incident_notices(
        engine, notifier, incident_id, actor=viewer.staff, limit=NOTICE_BATCH
    )
    if request.headers.get("hx-request") != "true":
        return _back(incident_id)
    return page(
        request,
        viewer,
        "incident_notices.html.j2",
        incident_id=incident_id,
        tally=tally,
    )


@router.post("/incidents/{incident_id}/containment")
def contain(
    request: Request,
    viewer: Officer,
    incident_id: IncidentPath,
    kind: Annotated[Literal["token_revoked", "account_disabled", "keys_rotated", "other"], Form()],
    target: Annotated[Line, Form(max_length=100)] = "",
    note: Annotated[Text, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    """Record a containment step; a token or account named here is revoked now."""
    engine_of(request).contain(
        incident_id, kind=kind, target=target or None, note=note, actor=viewer.staff
    )
    return _back(incident_id)


@router.post("/incidents/{incident_id}/report", response_class=HTMLResponse)
def report(
    request: Request,
    viewer: Officer,
    incident_id: IncidentPath,
    lang: Annotated[Literal["ko", "en"], Form()] = "ko",
) -> HTMLResponse:
    """The printable report to the regulator (preparing it is recorded)."""
    fields = engine_of(request).regulator_report(incident_id, actor=viewer.staff)
    return html_response(render_regulator_report(fields, lang=lang))


@router.post("/incidents/{incident_id}/close")
def close(request: Request, viewer: Officer, incident_id: IncidentPath) -> Response:
    """Close the incident; its records stay."""
    engine_of(request).close_incident(incident_id, actor=viewer.staff)
    return _back(incident_id)
