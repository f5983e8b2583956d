"""Opt-out links for a company's mailer: mint one per mail, for a subject and a purpose.

The caller needs a grant for the purpose (a service token scoped to ``marketing``, a
handler, the privacy officer). The answer holds the page's path (the mailer puts its
own site address in front) and the two headers RFC 8058 asks for, so a mail client's
one-click unsubscribe POSTs to the same address.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from haechi.api.deps import ERRORS, ActorDep, EngineDep
from haechi.api.schemas import Name, _Body
from haechi.engine.optout import MAX_LINK_DAYS

__all__ = ["OPTOUT_PATH", "router"]

router = APIRouter(prefix="/api/v1/optout-links", tags=["opt-out"], responses=ERRORS)

OPTOUT_PATH = "/privacy/optout/"


class LinkIn(_Body):
    """Whom and what the link is for."""

    subject_id: str = Field(min_length=1, max_length=36, pattern=r"^[0-9A-Za-z-]+$")
    purpose: Name
    valid_days: int = Field(default=90, ge=1, le=MAX_LINK_DAYS)


class LinkOut(BaseModel):
    """The link's path and the headers of the mail that carries it."""

    path: str = Field(description="Put the site's address in front: https://example.com + path.")
    list_unsubscribe_post: str = Field(
        description="The List-Unsubscribe-Post header's value (RFC 8058)."
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=LinkOut)
def mint(body: LinkIn, engine: EngineDep, actor: ActorDep) -> LinkOut:
    """A one-click opt-out link for a subject and a purpose resting on consent."""
    token = engine.optout_link(
        body.subject_id, purpose=body.purpose, valid_days=body.valid_days, actor=actor
    )
    return LinkOut(path=OPTOUT_PATH + token, list_unsubscribe_post="List-Unsubscribe=One-Click")
