"""Complaints: the queue, a complaint's thread, and each step to its result.

The same engine calls as ``/api/v1/complaints``: handlers granted ``complaints`` read
the queue and threads and act on those assigned to them, the privacy officer on all;
auditors see the metadata and who wrote when, never a text.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse

from haechi.mail.complaints import ResultQueue
from haechi.rights.complaints import DELIVERIES, MAX_MESSAGE, VERIFICATIONS, ComplaintState
from haechi.web.console import rules
from haechi.web.console.fields import Line, Text
from haechi.web.console.pages import ConsoleRoute, page, redirect
from haechi.web.console.requests import IdPath, notifier_of
from haechi.web.console.session import Guard, Viewer, engine_of

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Reader = Annotated[Viewer, Depends(Guard("console_complaints", rules.COMPLAINT_READERS))]
Handler = Annotated[Viewer, Depends(Guard("console_complaint_act", rules.COMPLAINT_ACTORS))]
_LISTED = 200


@router.get("/complaints", response_class=HTMLResponse)
def queue(
    request: Request, viewer: Reader, state: Annotated[ComplaintState | None, Query()] = None
) -> HTMLResponse:
    """The complaints queue, oldest first (metadata only)."""
    listed = engine_of(request).complaints(
        actor=viewer.staff, state=state.value if state else None, limit=_LISTED
    )
    return page(
        request,
        viewer,
        "complaints.html.j2",
        complaints=listed,
        states=list(ComplaintState),
        chosen=state.value if state else "",
        capped=len(listed) >= _LISTED,
    )


@router.get("/complaints/{complaint_id}", response_class=HTMLResponse)
def detail(request: Request, viewer: Reader, complaint_id: IdPath) -> HTMLResponse:
    """A complaint and its thread (texts for those who handle complaints)."""
    info, thread = engine_of(request).complaint(complaint_id, actor=viewer.staff)
    return page(
        request,
        viewer,
        "complaint.html.j2",
        item=info,
        thread=thread,
        verifications=sorted(VERIFICATIONS),
        deliveries=sorted(DELIVERIES),
        max_message=MAX_MESSAGE,
        may_act=viewer.role in rules.COMPLAINT_ACTORS,
    )


def _results(request: Request, background: BackgroundTasks) -> ResultQueue | None:
    """The outbox queue a step stores the result mail in; sent after the response."""
    notifier = notifier_of(request)
    if notifier is None:
        return None
    queue = ResultQueue(engine_of(request))
    background.add_task(queue.send, notifier)
    return queue


def _back(complaint_id: str) -> Response:
    return redirect(f"/console/complaints/{complaint_id}")


@router.post("/complaints/{complaint_id}/assign")
def assign(
    request: Request,
    viewer: Handler,
    complaint_id: IdPath,
    assignee: Annotated[Line, Form(min_length=1, max_length=100)],
) -> Response:
    """Assign to a handler granted complaints (or the privacy officer)."""
    engine_of(request).assign_complaint(complaint_id, to=assignee, actor=viewer.staff)
    return _back(complaint_id)


@router.post("/complaints/{complaint_id}/messages")
def reply(
    request: Request,
    viewer: Handler,
    complaint_id: IdPath,
    text: Annotated[Text, Form(min_length=1, max_length=MAX_MESSAGE)],
    note: Annotated[bool, Form()] = False,
) -> Response:
    """Add a sealed reply or internal note to the thread."""
    engine_of(request).reply_complaint(complaint_id, text=text, note=note, actor=viewer.staff)
    return _back(complaint_id)


@router.post("/complaints/{complaint_id}/verify-contact")
def verify_contact(
    request: Request,
    viewer: Handler,
    complaint_id: IdPath,
    method: Annotated[Line, Form(min_length=1, max_length=20)],
) -> Response:
    """Record that the petitioner's email was confirmed, and how."""
    engine_of(request).verify_complaint_contact(complaint_id, method=method, actor=viewer.staff)
    return _back(complaint_id)


@router.post("/complaints/{complaint_id}/close")
def close(
    request: Request,
    viewer: Handler,
    complaint_id: IdPath,
    background: BackgroundTasks,
    result: Annotated[Text, Form(min_length=1, max_length=MAX_MESSAGE)],
    delivery: Annotated[Line, Form(min_length=1, max_length=20)] = "mail",
) -> Response:
    """Close with the result: mailed to a confirmed address (queued), or recorded as delivered."""
    engine_of(request).close_complaint(
        complaint_id,
        result=result,
        delivery=delivery,
        actor=viewer.staff,
        queue=_results(request, background),
    )
    return _back(complaint_id)


@router.post("/complaints/{complaint_id}/deliver")
def deliver(
    request: Request, viewer: Handler, complaint_id: IdPath, background: BackgroundTasks
) -> Response:
    """Queue again a closed complaint's result mail that was not delivered."""
    engine_of(request).deliver_complaint_result(
        complaint_id, actor=viewer.staff, queue=_results(request, background)
    )
    return _back(complaint_id)
