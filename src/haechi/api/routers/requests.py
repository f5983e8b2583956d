"""Staff's side of requests: the queue with due dates, and each step of a request.

Handlers act on requests of the purposes they are granted, the privacy officer on
all; auditors read. An answer that goes by mail is stored in the outbox by the step
itself (in its transaction) and sent after the response.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, status
from pydantic import Field

from haechi.api.deps import ERRORS, ActorDep, EngineDep, IdPath
from haechi.api.routers.public import PublicRequestIn, notifier_of
from haechi.api.schemas import Text, _Body
from haechi.engine import Engine
from haechi.errors import InvalidInput
from haechi.mail.requests import AnswerQueue

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/requests", tags=["requests"], responses=ERRORS)
# Base64 of the largest document a request takes (5 MiB), rounded up.
_MAX_ENCODED = 7 * 1024 * 1024
_MAX_ATTACHMENTS = 10


class AttachmentIn(_Body):
    """A document received with the request, base64-encoded; sealed once stored."""

    kind: Text = Field(
        min_length=1,
        max_length=30,
        description="received, power_of_attorney, proof_of_representation…",
    )
    media_type: Text = Field(min_length=1, max_length=100)
    content: Text = Field(min_length=1, max_length=_MAX_ENCODED, description="Base64.")


class StaffRequestIn(PublicRequestIn):
    """A request received by email, document, fax or the national portal."""

    channel: Text = Field(min_length=1, max_length=20)
    requester: Text = Field(default="subject", max_length=30)
    representative: (
        dict[Annotated[Text, Field(max_length=30)], Annotated[Text, Field(max_length=200)]] | None
    ) = Field(default=None, max_length=8)
    reply_to: Text | None = Field(default=None, max_length=320)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=_MAX_ATTACHMENTS)


class VerifyIn(_Body):
    """How staff confirmed the requester."""

    method: Text = Field(min_length=1, max_length=30)


class CompleteIn(_Body):
    """How the answer reaches the person."""

    delivery: Text = Field(default="mail", max_length=10)


class RefuseIn(_Body):
    """Why the request is refused (a reason code), and a note kept sealed."""

    reason: Text = Field(min_length=1, max_length=40)
    note: Text | None = Field(default=None, max_length=2000)


class PostponeIn(RefuseIn):
    """Why the answer is postponed, and until when."""

    due_at: datetime


def _answers(engine: Engine, request: Request, background: BackgroundTasks) -> AnswerQueue:
    """The outbox queue a step writes its answer to; what it queued is sent after the response."""
    queue = AnswerQueue(engine, getattr(request.app.state, "export_renderer", None))
    background.add_task(queue.send, notifier_of(request))
    return queue


def _decoded(attachments: list[AttachmentIn]) -> list[tuple[str, str, bytes]]:
    decoded: list[tuple[str, str, bytes]] = []
    for index, attachment in enumerate(attachments):
        try:
            content = base64.b64decode(attachment.content, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(
                "content is not base64", field=f"attachments.{index}.content"
            ) from None
        decoded.append((attachment.kind, attachment.media_type, content))
    return decoded


@router.get("", response_model=list[dict[str, Any]])
def list_requests(
    engine: EngineDep,
    actor: ActorDep,
    state: Annotated[str | None, Query(max_length=20)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    due_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Requests by due date, filtered by state, kind and due date."""
    return [
        info.to_json()
        for info in engine.requests(
            actor=actor, state=state, kind=kind, due_before=due_before, limit=limit
        )
    ]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=dict[str, Any])
def enter(body: StaffRequestIn, engine: EngineDep, actor: ActorDep) -> dict[str, Any]:
    """Enter a request received by another channel, with its documents."""
    return engine.enter_request(
        kind=body.kind,
        channel=body.channel,
        email=body.email,
        phone=body.phone,
        purposes=body.purposes,
        lang=body.lang,
        requester=body.requester,
        representative=body.representative,
        reply_to=body.reply_to,
        attachments=_decoded(body.attachments),
        corrections=body.corrections,
        actor=actor,
    ).to_json()


@router.get("/{request_id}", response_model=dict[str, Any])
def show(request_id: IdPath, engine: EngineDep, actor: ActorDep) -> dict[str, Any]:
    """One request, its documents (not their contents) and its history."""
    return engine.request(request_id, actor=actor).to_json()


@router.post("/{request_id}/verify", response_model=dict[str, Any])
def verify(
    request_id: IdPath, body: VerifyIn, engine: EngineDep, actor: ActorDep
) -> dict[str, Any]:
    """Record how the requester of a staff-entered request was confirmed."""
    return engine.verify_request(request_id, method=body.method, actor=actor).to_json()


@router.post("/{request_id}/start", response_model=dict[str, Any])
def start(request_id: IdPath, engine: EngineDep, actor: ActorDep) -> dict[str, Any]:
    """Begin handling a verified request."""
    return engine.start_request(request_id, actor=actor).to_json()


@router.post("/{request_id}/complete", response_model=dict[str, Any])
def complete(
    request_id: IdPath,
    body: CompleteIn,
    engine: EngineDep,
    actor: ActorDep,
    request: Request,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Carry the request out; the answer is mailed, or recorded as sent by post or fax."""
    engine.complete_request(
        request_id,
        delivery=body.delivery,
        actor=actor,
        queue=_answers(engine, request, background),
    )
    return engine.request(request_id, actor=actor).to_json()


@router.post("/{request_id}/refuse", response_model=dict[str, Any])
def refuse(
    request_id: IdPath,
    body: RefuseIn,
    engine: EngineDep,
    actor: ActorDep,
    request: Request,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Refuse the request with its reason; the answer says how to object."""
    engine.refuse_request(
        request_id,
        reason=body.reason,
        note=body.note,
        actor=actor,
        queue=_answers(engine, request, background),
    )
    return engine.request(request_id, actor=actor).to_json()


@router.post("/{request_id}/postpone", response_model=dict[str, Any])
def postpone(
    request_id: IdPath,
    body: PostponeIn,
    engine: EngineDep,
    actor: ActorDep,
    request: Request,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Postpone the answer once, within the original deadline, telling the person."""
    engine.postpone_request(
        request_id,
        reason=body.reason,
        due_at=body.due_at,
        note=body.note,
        actor=actor,
        queue=_answers(engine, request, background),
    )
    return engine.request(request_id, actor=actor).to_json()


@router.post("/{request_id}/lift", response_model=dict[str, Any])
def lift(request_id: IdPath, engine: EngineDep, actor: ActorDep) -> dict[str, Any]:
    """Lift the suspension a completed suspension request set."""
    return engine.lift_suspension(request_id, actor=actor).to_json()
