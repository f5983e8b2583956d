"""The public side of requests: no token, answered alike for known and unknown people.

A request is answered 202 with its id and a status token whether or not anyone is on
file; the code mail (only to an address on file) is sent after the answer, so its
cost is not part of it. The status token travels in the ``X-Status-Token`` header,
never in a URL. Codes are capped per address and per source address (429).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from pydantic import BaseModel, Field

from haechi.api.deps import ERRORS, EngineDep, IdPath, IpDep
from haechi.api.schemas import MAX_ITEM_VALUE, MAX_ITEMS, ErrorOut, ItemValue, Name, Text, _Body
from haechi.engine.rights_inputs import MAX_PURPOSES
from haechi.mail import Notifier
from haechi.mail.requests import post_code
from haechi.rights.models import PublicStatus

__all__ = ["PublicRequestIn", "notifier_of", "router"]

router = APIRouter(
    prefix="/api/v1/public", tags=["public"], responses={**ERRORS, 429: {"model": ErrorOut}}
)

StatusToken = Annotated[
    str, Header(alias="X-Status-Token", min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
]


class PublicRequestIn(_Body):
    """A person's request about their own data."""

    kind: Text = Field(min_length=1, max_length=20, description="access, correction, deletion…")
    email: Text | None = Field(default=None, max_length=320)
    phone: Text | None = Field(default=None, max_length=40)
    purposes: list[Name] | None = Field(default=None, max_length=MAX_PURPOSES)
    lang: Text = Field(default="ko", max_length=2)
    corrections: dict[Name, ItemValue] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description=f"A correction's new values, item → value (each ≤ {MAX_ITEM_VALUE}).",
    )


class ReceiptOut(BaseModel):
    """The same for everyone: keep both to verify and to follow the request."""

    request_id: str
    status_token: str


class CodeIn(_Body):
    """The code from the mail."""

    code: Text = Field(min_length=1, max_length=6)


class StatusOut(BaseModel):
    """Where a request stands."""

    request_id: str
    kind: str
    state: str
    received_at: str
    due_at: str
    refusal_reason: str | None = None
    refusal_until: str | None = None
    postpone_reason: str | None = None


def _status(found: PublicStatus) -> StatusOut:
    return StatusOut(
        request_id=found.request_id,
        kind=found.kind,
        state=found.state,
        received_at=found.received_at.isoformat(),
        due_at=found.due_at.isoformat(),
        refusal_reason=found.refusal_reason,
        refusal_until=found.refusal_until.isoformat() if found.refusal_until else None,
        postpone_reason=found.postpone_reason,
    )


def notifier_of(request: Request) -> Notifier | None:
    """The application's mail notifier, if mail is set up."""
    notifier: Notifier | None = getattr(request.app.state, "notifier", None)
    return notifier


@router.post("/requests", status_code=status.HTTP_202_ACCEPTED, response_model=ReceiptOut)
def submit(
    body: PublicRequestIn,
    engine: EngineDep,
    ip: IpDep,
    request: Request,
) -> ReceiptOut:
    """Make a request; a code is mailed to the address if it is on file."""
    receipt = engine.submit_request(
        kind=body.kind,
        email=body.email,
        phone=body.phone,
        purposes=body.purposes,
        lang=body.lang,
        corrections=body.corrections,
        source_ip=ip,
    )
    # Known address or not, the same work goes to the courier (see CodeCourier).
    post_code(request.app.state, engine, receipt.code_mail, lang=body.lang)
    return ReceiptOut(request_id=receipt.request_id, status_token=receipt.status_token)


@router.post("/requests/{request_id}/verify", response_model=StatusOut)
def verify(
    request_id: IdPath, body: CodeIn, token: StatusToken, engine: EngineDep, ip: IpDep
) -> StatusOut:
    """Confirm the request with the code from the mail (5 tries, 10 minutes)."""
    return _status(
        engine.verify_request_code(request_id, status_token=token, code=body.code, source_ip=ip)
    )


@router.post(
    "/requests/{request_id}/code", status_code=status.HTTP_202_ACCEPTED, response_model=ReceiptOut
)
def new_code(
    request_id: IdPath,
    token: StatusToken,
    engine: EngineDep,
    ip: IpDep,
    request: Request,
) -> ReceiptOut:
    """Ask for a new code (the earlier one stops working)."""
    mail = engine.resend_code(request_id, status_token=token, source_ip=ip)
    post_code(request.app.state, engine, mail, lang=mail.lang if mail is not None else "ko")
    return ReceiptOut(request_id=request_id, status_token=token)


@router.get("/requests/{request_id}", response_model=StatusOut)
def read(request_id: IdPath, token: StatusToken, engine: EngineDep, ip: IpDep) -> StatusOut:
    """Where the request stands, with its status token."""
    return _status(engine.request_status(request_id, status_token=token, source_ip=ip))
