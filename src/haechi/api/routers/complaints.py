"""Complaints (민원): the public intake and status, and the staff queue and actions.

The public intake takes no token: it is limited per source address and hour, every
field is bounded, consent evidence is required, and it answers 202 with the same
body whether or not the person is already known.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from haechi.access.decision import Actor
from haechi.api.deps import ERRORS, ActorDep, EngineDep, IdPath, IpDep
from haechi.api.errors import RETRY_AFTER_SECONDS, error_body
from haechi.api.routers.public import notifier_of
from haechi.api.schemas import MAX_ITEMS, ConsentIn, ItemValue, Name, Text
from haechi.engine import Engine
from haechi.errors import NotFound
from haechi.mail.complaints import ResultQueue
from haechi.rights.complaints import (
    MAX_MESSAGE,
    PURPOSE,
    ComplaintInfo,
    IntakeLimited,
    ThreadMessage,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERRORS)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Message = Annotated[Text, Field(min_length=1, max_length=MAX_MESSAGE)]


class ComplaintIn(_Body):
    """A complaint from the public form: the petitioner's items, the petition, consent."""

    items: dict[Name, ItemValue] = Field(
        max_length=MAX_ITEMS,
        description="The complaints purpose's items (name, email, contact…) as the policy says.",
    )
    description: Message = Field(description="What the complaint is about.")
    consent: ConsentIn


class ComplaintAccepted(BaseModel):
    """The answer to every accepted intake, for known and unknown people alike."""

    complaint_id: str
    status_token: str = Field(description="Send as X-Status-Token to follow the complaint.")


class ComplaintStatus(BaseModel):
    """What a petitioner sees of their complaint."""

    id: str
    state: str
    received_at: datetime
    closed_at: datetime | None


class ComplaintOut(BaseModel):
    """A complaint's metadata."""

    id: str
    collection_id: str
    subject_id: str
    state: str
    channel: str
    received_at: datetime
    updated_at: datetime
    assigned_to: str | None
    contact_verified: str | None
    closed_at: datetime | None
    delivery: str | None
    delivered_at: datetime | None
    collection_state: str


class MessageOut(BaseModel):
    """One message; ``text`` is null for auditors and once the thread is destroyed."""

    seq: int
    kind: str
    author: str
    written_at: datetime
    text: str | None


class ComplaintDetail(ComplaintOut):
    """A complaint with its thread."""

    messages: list[MessageOut]


class AssignIn(_Body):
    """Who handles the complaint."""

    assignee: Text = Field(min_length=1, max_length=100, description="A staff username.")


class MessageIn(_Body):
    """A reply to the petitioner, or an internal note."""

    text: Message
    note: StrictBool = Field(default=False, description="An internal note, not a reply.")


class VerifyIn(_Body):
    """How the handler confirmed the petitioner's email."""

    method: Literal["phone", "document", "in_person", "reply_mail"]


class CloseIn(_Body):
    """The result, and how it reaches the petitioner."""

    result: Message
    delivery: Literal["mail", "post", "phone", "fax", "in_person"] = "mail"


def _out(info: ComplaintInfo) -> ComplaintOut:
    return ComplaintOut(
        id=info.id,
        collection_id=info.collection_id,
        subject_id=info.subject_id,
        state=info.state.value,
        channel=info.channel,
        received_at=info.received_at,
        updated_at=info.updated_at,
        assigned_to=info.assigned_to,
        contact_verified=info.contact_verified,
        closed_at=info.closed_at,
        delivery=info.delivery,
        delivered_at=info.delivered_at,
        collection_state=info.collection_state,
    )


def _message(message: ThreadMessage) -> MessageOut:
    return MessageOut(
        seq=message.seq,
        kind=message.kind,
        author=message.author,
        written_at=message.written_at,
        text=message.text,
    )


def _results(engine: Engine, request: Request, background: BackgroundTasks) -> ResultQueue | None:
    """The outbox queue a step stores the result mail in; sent after the response.

    None without a mail server: the engine then refuses mail (MAIL_DISABLED).
    """
    notifier = notifier_of(request)
    if notifier is None:
        return None
    queue = ResultQueue(engine)
    background.add_task(queue.send, notifier)
    return queue


# -- public ---------------------------------------------------------------------


@router.post(
    "/public/complaints",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ComplaintAccepted,
    responses={429: {"description": "Too many complaints from this address."}},
)
def submit(body: ComplaintIn, engine: EngineDep, ip: IpDep) -> ComplaintAccepted | JSONResponse:
    """File a complaint (no token): the petitioner's details are collected with consent."""
    actor = Actor(name="public", kind="public", purposes=frozenset({PURPOSE}), source_ip=ip)
    try:
        intake = engine.submit_complaint(
            items=body.items,
            description=body.description,
            consent=body.consent.evidence(ip),
            actor=actor,
        )
    except IntakeLimited as limited:
        return JSONResponse(
            error_body(limited.message, limited.code),
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    return ComplaintAccepted(complaint_id=intake.complaint_id, status_token=intake.status_token)


@router.get("/public/complaints/{complaint_id}", response_model=ComplaintStatus)
def follow(
    complaint_id: IdPath,
    engine: EngineDep,
    ip: IpDep,
    token: Annotated[str, Header(alias="X-Status-Token", min_length=1, max_length=64)],
) -> ComplaintStatus:
    """A complaint's state, for whoever holds its status token."""
    info = engine.complaint_status(complaint_id, token=token, source_ip=ip)
    if info is None:
        raise NotFound("no such complaint", field="complaint_id")
    return ComplaintStatus(
        id=info.id, state=info.state.value, received_at=info.received_at, closed_at=info.closed_at
    )


# -- staff ----------------------------------------------------------------------


@router.get("/complaints", response_model=list[ComplaintOut])
def queue(
    engine: EngineDep,
    actor: ActorDep,
    state: Annotated[
        Literal["received", "assigned", "closed"] | None, Query(description="Only this state.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ComplaintOut]:
    """The complaints queue, oldest first."""
    return [_out(info) for info in engine.complaints(actor=actor, state=state, limit=limit)]


@router.get("/complaints/{complaint_id}", response_model=ComplaintDetail)
def show(complaint_id: IdPath, engine: EngineDep, actor: ActorDep) -> ComplaintDetail:
    """A complaint and its thread (texts for handlers and the officer only)."""
    info, thread = engine.complaint(complaint_id, actor=actor)
    return ComplaintDetail(
        **_out(info).model_dump(), messages=[_message(message) for message in thread]
    )


@router.post("/complaints/{complaint_id}/assign", status_code=status.HTTP_204_NO_CONTENT)
def assign(complaint_id: IdPath, body: AssignIn, engine: EngineDep, actor: ActorDep) -> None:
    """Assign the complaint to a handler granted complaints (or the privacy officer)."""
    engine.assign_complaint(complaint_id, to=body.assignee, actor=actor)


@router.post("/complaints/{complaint_id}/messages", status_code=status.HTTP_201_CREATED)
def reply(
    complaint_id: IdPath, body: MessageIn, engine: EngineDep, actor: ActorDep
) -> dict[str, int]:
    """Add a sealed reply or note to the thread."""
    return {
        "seq": engine.reply_complaint(complaint_id, text=body.text, note=body.note, actor=actor)
    }


@router.post("/complaints/{complaint_id}/verify-contact", status_code=status.HTTP_204_NO_CONTENT)
def verify_contact(
    complaint_id: IdPath, body: VerifyIn, engine: EngineDep, actor: ActorDep
) -> None:
    """Record that the petitioner's email was confirmed, and how."""
    engine.verify_complaint_contact(complaint_id, method=body.method, actor=actor)


@router.post("/complaints/{complaint_id}/close", response_model=ComplaintOut)
def close(
    complaint_id: IdPath,
    body: CloseIn,
    engine: EngineDep,
    actor: ActorDep,
    request: Request,
    background: BackgroundTasks,
) -> ComplaintOut:
    """Close with the result; mailed to a confirmed address (queued, then sent), or recorded.

    A mailed result shows ``delivered_at`` once the mail server has taken it.
    """
    info = engine.close_complaint(
        complaint_id,
        result=body.result,
        delivery=body.delivery,
        actor=actor,
        queue=_results(engine, request, background),
    )
    return _out(info)


@router.post("/complaints/{complaint_id}/deliver", response_model=ComplaintOut)
def deliver(
    complaint_id: IdPath,
    engine: EngineDep,
    actor: ActorDep,
    request: Request,
    background: BackgroundTasks,
) -> ComplaintOut:
    """Queue again the result mail of a closed complaint that was not delivered.

    409 ALREADY_QUEUED while it still waits in the outbox (it goes by itself).
    """
    # Without mail the engine answers MAIL_DISABLED, after the caller's grant is checked.
    queue = _results(engine, request, background)
    return _out(engine.deliver_complaint_result(complaint_id, actor=actor, queue=queue))
