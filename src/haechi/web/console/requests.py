"""The requests queue with its deadlines, and each request's page with its steps.

The same engine calls as ``/api/v1/requests``: handlers act on requests of the
purposes they are granted, the privacy officer on all, auditors read. An answer that
goes by mail is stored in the outbox by the step itself and sent after the response,
as the API does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from haechi.engine import Engine
from haechi.mail import Notifier
from haechi.mail.requests import AnswerQueue, ExportRenderer
from haechi.rights.models import (
    STAFF_METHODS,
    Delivery,
    Kind,
    PostponeReason,
    RefusalReason,
    State,
)
from haechi.web.console import rules
from haechi.web.console.fields import Line, Text
from haechi.web.console.pages import ConsoleRoute, page, redirect
from haechi.web.console.session import Guard, Viewer, engine_of

__all__ = ["ID", "PAGE", "IdPath", "notifier_of", "router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Reader = Annotated[Viewer, Depends(Guard("console_requests", rules.REQUEST_READERS))]
Actor = Annotated[Viewer, Depends(Guard("console_request_act", rules.REQUEST_ACTORS))]
ID = r"^[0-9A-Za-z-]{1,36}$"
IdPath = Annotated[str, Path(min_length=1, max_length=36, pattern=ID)]
PAGE = 50
_MAX_PAGE = 1000


def notifier_of(request: Request) -> Notifier | None:
    """The application's mail notifier, if mail is set up."""
    notifier: Notifier | None = getattr(request.app.state, "notifier", None)
    return notifier


def _answers(request: Request, background: BackgroundTasks) -> AnswerQueue:
    """The outbox queue a step writes its answer to; what it queued is sent after the response."""
    renderer: ExportRenderer | None = getattr(request.app.state, "export_renderer", None)
    queue = AnswerQueue(engine_of(request), renderer)
    background.add_task(queue.send, notifier_of(request))
    return queue


@router.get("/requests", response_class=HTMLResponse)
def queue(
    request: Request,
    viewer: Reader,
    state: Annotated[State | None, Query()] = None,
    kind: Annotated[Kind | None, Query()] = None,
    due_before: Annotated[date | None, Query()] = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=_MAX_PAGE)] = 1,
) -> HTMLResponse:
    """Requests by due date, filtered by state, kind and due date, a page at a time."""
    engine = engine_of(request)
    due = datetime.combine(due_before, time(), tzinfo=UTC) if due_before else None
    listed = engine.requests(
        actor=viewer.staff,
        state=state.value if state else None,
        kind=kind.value if kind else None,
        due_before=due,
        limit=PAGE + 1,
        offset=(page_number - 1) * PAGE,
    )
    query = {
        "state": state.value if state else "",
        "kind": kind.value if kind else "",
        "due_before": due_before.isoformat() if due_before else "",
    }
    base = "&".join(f"{key}={value}" for key, value in query.items() if value)
    return page(
        request,
        viewer,
        "requests.html.j2",
        requests=listed[:PAGE],
        now=engine.clock(),
        states=list(State),
        kinds=list(Kind),
        chosen=query,
        previous_href=f"/console/requests?{base}&page={page_number - 1}"
        if page_number > 1
        else None,
        next_href=f"/console/requests?{base}&page={page_number + 1}"
        if len(listed) > PAGE
        else None,
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def detail(request: Request, viewer: Reader, request_id: IdPath) -> HTMLResponse:
    """One request: its dates, documents (not their contents), history and next steps."""
    engine = engine_of(request)
    info = engine.request(request_id, actor=viewer.staff)
    return page(
        request,
        viewer,
        "request.html.j2",
        item=info,
        now=engine.clock(),
        methods=sorted(STAFF_METHODS),
        deliveries=list(Delivery),
        refusals=[reason for reason in RefusalReason if reason is not RefusalReason.NOTHING_HELD],
        postponements=list(PostponeReason),
        may_act=viewer.role in rules.REQUEST_ACTORS,
    )


def _back(request_id: str) -> Response:
    return redirect(f"/console/requests/{request_id}")


def _engine(request: Request) -> Engine:
    return engine_of(request)


@router.post("/requests/{request_id}/verify")
def verify(
    request: Request,
    viewer: Actor,
    request_id: IdPath,
    method: Annotated[Line, Form(min_length=1, max_length=30)],
) -> Response:
    """Record how the requester of a staff-entered request was confirmed."""
    _engine(request).verify_request(request_id, method=method, actor=viewer.staff)
    return _back(request_id)


@router.post("/requests/{request_id}/start")
def start(request: Request, viewer: Actor, request_id: IdPath) -> Response:
    """Begin handling a verified request."""
    _engine(request).start_request(request_id, actor=viewer.staff)
    return _back(request_id)


@router.post("/requests/{request_id}/complete")
def complete(
    request: Request,
    viewer: Actor,
    request_id: IdPath,
    background: BackgroundTasks,
    delivery: Annotated[Line, Form(min_length=1, max_length=10)] = "mail",
) -> Response:
    """Carry the request out; its answer is mailed, or recorded as sent by post or fax."""
    _engine(request).complete_request(
        request_id,
        delivery=delivery,
        actor=viewer.staff,
        queue=_answers(request, background),
    )
    return _back(request_id)


@router.post("/requests/{request_id}/refuse")
def refuse(
    request: Request,
    viewer: Actor,
    request_id: IdPath,
    background: BackgroundTasks,
    reason: Annotated[Line, Form(min_length=1, max_length=40)],
    note: Annotated[Text, Form(max_length=2000)] = "",
) -> Response:
    """Refuse with a reason; the answer tells the person how to object."""
    _engine(request).refuse_request(
        request_id,
        reason=reason,
        note=note or None,
        actor=viewer.staff,
        queue=_answers(request, background),
    )
    return _back(request_id)


@router.post("/requests/{request_id}/postpone")
def postpone(
    request: Request,
    viewer: Actor,
    request_id: IdPath,
    background: BackgroundTasks,
    reason: Annotated[Line, Form(min_length=1, max_length=40)],
    due_on: Annotated[date, Form()],
    note: Annotated[Text, Form(max_length=2000)] = "",
) -> Response:
    """Postpone once, to a day within the original deadline, telling the person."""
    _engine(request).postpone_request(
        request_id,
        reason=reason,
        due_at=datetime.combine(due_on, time(), tzinfo=UTC),
        note=note or None,
        actor=viewer.staff,
        queue=_answers(request, background),
    )
    return _back(request_id)


@router.post("/requests/{request_id}/lift")
def lift(request: Request, viewer: Actor, request_id: IdPath) -> Response:
    """Lift the suspension a completed suspension request set."""
    _engine(request).lift_suspension(request_id, actor=viewer.staff)
    return _back(request_id)
