"""The access log, filtered; its alerts, the monthly review and sign-off, verification.

Events are filtered by actor, purpose, subject, time and outcome, a page at a time.

Reading the log is an event of its own; so is a review recorded and a verification.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse

from haechi.audit.events import EventFilter
from haechi.engine.overview import MAX_LOG_PAGE
from haechi.web.console import rules
from haechi.web.console.fields import Line, Text
from haechi.web.console.pages import ConsoleRoute, page, redirect
from haechi.web.console.requests import ID
from haechi.web.console.session import Guard, Viewer, engine_of

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Reader = Annotated[Viewer, Depends(Guard("console_log", rules.LOG_READERS))]
Officer = Annotated[Viewer, Depends(Guard("console_log_review", rules.OFFICER))]
_NAME = r"^[A-Za-z0-9<>:_.@-]{1,100}$"
_MONTH = r"^[0-9]{4}-[0-9]{2}$"
PAGE = 50


def _day(value: date | None, *, end: bool = False) -> datetime | None:
    if value is None:
        return None
    start = datetime.combine(value, time(), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


@router.get("/log", response_class=HTMLResponse)
def events(
    request: Request,
    viewer: Reader,
    actor: Annotated[str | None, Query(max_length=100, pattern=_NAME)] = None,
    purpose: Annotated[str | None, Query(max_length=63, pattern=r"^[a-z<>:_0-9]{1,63}$")] = None,
    subject: Annotated[str | None, Query(max_length=36, pattern=ID)] = None,
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    outcome: Annotated[Literal["allowed", "denied"] | None, Query()] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LOG_PAGE)] = PAGE,
) -> HTMLResponse:
    """A page of the log, newest first, with the alerts of the last months."""
    engine = engine_of(request)
    where = EventFilter(
        actor=actor,
        purpose=purpose,
        subject_id=subject,
        outcome=outcome,
        since=_day(since),
        until=_day(until, end=True),
        before=before,
    )
    listed = engine.access_log(actor=viewer.staff, where=where, limit=limit)
    chosen = {
        "actor": actor or "",
        "purpose": purpose or "",
        "subject": subject or "",
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
        "outcome": outcome or "",
    }
    kept = {key: value for key, value in chosen.items() if value}
    next_href = None
    if len(listed) == limit:
        next_href = "/console/log?" + urlencode({**kept, "before": listed[-1].id})
    month = engine.clock().strftime("%Y-%m")
    return page(
        request,
        viewer,
        "log.html.j2",
        events=listed,
        chosen=chosen,
        first_href="/console/log?" + urlencode(kept) if before else None,
        next_href=next_href,
        alerts=engine.alerts(limit=20),
        month=month,
        verified=None,
    )


@router.post("/log/verify", response_class=HTMLResponse)
def verify(request: Request, viewer: Reader) -> HTMLResponse:
    """Recompute every leaf and root and check every head: the whole log's verification."""
    engine = engine_of(request)
    report = engine.verify_log()
    engine.record_verification(report, actor=viewer.staff)
    return page(request, viewer, "verified.html.j2", report=report)


@router.get("/log/review", response_class=HTMLResponse)
def review(
    request: Request,
    viewer: Reader,
    month: Annotated[str, Query(min_length=7, max_length=7, pattern=_MONTH)],
) -> HTMLResponse:
    """A month's accesses per actor, its alerts, and the sign-offs recorded for it."""
    report = engine_of(request).review(month)
    return page(
        request,
        viewer,
        "review.html.j2",
        review=report,
        may_sign=viewer.role in rules.OFFICER,
    )


@router.post("/log/review")
def sign_off(
    request: Request,
    viewer: Officer,
    month: Annotated[Line, Form(min_length=7, max_length=7, pattern=_MONTH)],
    notes: Annotated[Text, Form(max_length=2000)] = "",
) -> Response:
    """Record the privacy officer's inspection of a month."""
    engine_of(request).record_review(month, reviewer=viewer.staff.name, notes=notes)
    return redirect(f"/console/log/review?month={month}")
