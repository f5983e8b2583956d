"""The one-click opt-out pages: the link a mail carries, its confirmation, RFC 8058.

``GET /privacy/optout/<token>`` only shows what the link is for and a button: mail
scanners fetch links, and a fetch must change nothing. The button POSTs (with the page's
CSRF token) and consent for the purpose is withdrawn. A mail client's one-click
unsubscribe (RFC 8058: a POST whose body is ``List-Unsubscribe=One-Click``, from the
mail provider, with no cookie) withdraws too: the sealed token is the authority there.
Either way it needs no login, and a second click changes nothing and shows the same page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from haechi.engine.optout import MAX_TOKEN
from haechi.errors import HaechiError
from haechi.web.center import AcceptLanguage, Lang, Visit
from haechi.web.forms import read_form

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(min_length=1, max_length=MAX_TOKEN, pattern=r"^[A-Za-z0-9_-]+$")]
_ONE_CLICK = ("List-Unsubscribe", "One-Click")


def _label(visit: Visit, purpose: str) -> str:
    declared = visit.engine.policy.policy.purposes.get(purpose)
    return declared.label.get(visit.lang) if declared else purpose


@router.get("/privacy/optout/{token}", response_class=HTMLResponse)
def confirm(
    request: Request, token: Token, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """What the link is for, and the button that withdraws (nothing changes yet)."""
    visit = Visit.of(request, lang, accept)
    path = f"/privacy/optout/{token}"
    try:
        link = visit.engine.optout_preview(token)
    except HaechiError as error:
        return visit.refused("center/optout_invalid.html.j2", error, path="/privacy/center")
    return visit.render(
        "center/optout_confirm.html.j2", path=path, token=token, purpose=_label(visit, link.purpose)
    )


@router.post("/privacy/optout/{token}", response_class=HTMLResponse)
async def withdraw(
    request: Request, token: Token, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """Withdraw consent for the link's purpose (the button, or a mail client's one click)."""
    visit = Visit.of(request, lang, accept)
    try:
        form = await read_form(request)
        if tuple(form.multi_items()) != (_ONE_CLICK,):
            (await visit.posted()).done()
        done = visit.engine.optout(token, source_ip=visit.source_ip)
    except HaechiError as error:
        try:
            # A form refused (its CSRF token) for a link that holds: the button again.
            purpose = visit.engine.optout_preview(token).purpose
        except HaechiError:
            purpose = None
        if error.field == "token" or purpose is None:
            return visit.refused("center/optout_invalid.html.j2", error, path="/privacy/center")
        return visit.refused(
            "center/optout_confirm.html.j2",
            error,
            path=f"/privacy/optout/{token}",
            token=token,
            purpose=_label(visit, purpose),
        )
    return visit.render(
        "center/optout_done.html.j2", path="/privacy/center", purpose=_label(visit, done.purpose)
    )
