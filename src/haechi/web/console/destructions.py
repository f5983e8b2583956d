"""Destructions: batches to confirm with their certificates, overdue data, paper records."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request, Response
from fastapi.responses import HTMLResponse

from haechi.web.console import rules
from haechi.web.console.fields import Line
from haechi.web.console.pages import ConsoleRoute, page, redirect
from haechi.web.console.requests import ID
from haechi.web.console.session import Guard, Viewer, engine_of

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Reader = Annotated[Viewer, Depends(Guard("console_destructions", rules.DESTRUCTION_READERS))]
Officer = Annotated[Viewer, Depends(Guard("console_destruction_act", rules.OFFICER))]
BatchPath = Annotated[str, Path(min_length=1, max_length=36, pattern=ID)]
_LISTED = 100
_CERTIFICATES = 500


@router.get("/destructions", response_class=HTMLResponse)
def overview(request: Request, viewer: Reader) -> HTMLResponse:
    """Batches (those awaiting confirmation first), overdue collections, paper records."""
    engine = engine_of(request)
    batches, overdue, paper = engine.destruction_overview(actor=viewer.staff, limit=_LISTED)
    return page(
        request,
        viewer,
        "destructions.html.j2",
        batches=batches,
        overdue=overdue,
        paper=paper,
        methods=[method.value for method in engine.policy.policy.destruction.paper],
        may_act=viewer.role in rules.OFFICER,
        listed=_LISTED,
    )


@router.get("/destructions/{batch_id}", response_class=HTMLResponse)
def batch(request: Request, viewer: Reader, batch_id: BatchPath) -> HTMLResponse:
    """One batch and its certificates: what the privacy officer confirms."""
    info, certificates = engine_of(request).destruction_certificates(
        batch_id, actor=viewer.staff, limit=_CERTIFICATES
    )
    return page(
        request,
        viewer,
        "batch.html.j2",
        batch=info,
        certificates=certificates,
        capped=len(certificates) >= _CERTIFICATES,
        may_act=viewer.role in rules.OFFICER,
    )


@router.post("/destructions/{batch_id}/confirm")
def confirm(request: Request, viewer: Officer, batch_id: BatchPath) -> Response:
    """Record the privacy officer's confirmation of a batch."""
    engine_of(request).confirm_destruction(batch_id, by=viewer.staff.name)
    return redirect(f"/console/destructions/{batch_id}")


@router.post("/destructions/paper")
def paper(
    request: Request,
    viewer: Officer,
    description: Annotated[Line, Form(min_length=1, max_length=500)],
    method: Annotated[Line, Form(min_length=1, max_length=30)],
    witness: Annotated[Line, Form(min_length=1, max_length=100)],
    destroyed_on: Annotated[date | None, Form()] = None,
) -> Response:
    """Register destroyed paper documents, with the witness."""
    engine_of(request).record_paper(
        description=description,
        method=method,
        destroyed_by=viewer.staff.name,
        witness=witness,
        destroyed_at=datetime.combine(destroyed_on, time(), tzinfo=UTC) if destroyed_on else None,
    )
    return redirect("/console/destructions")
