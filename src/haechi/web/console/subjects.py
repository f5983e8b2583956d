"""Subject search by email or phone (blind index): collections and states, never values.

The typed address goes in the form body, never the URL. Values are shown only once
a purpose is chosen, through :meth:`haechi.Engine.use`: a decision recorded in the
access log like every other read, allowed or refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from haechi.web.console import rules
from haechi.web.console.fields import Line, Text
from haechi.web.console.pages import ConsoleRoute, page
from haechi.web.console.requests import IdPath
from haechi.web.console.session import Guard, Viewer, client_ip, engine_of

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Searcher = Annotated[Viewer, Depends(Guard("console_subjects", rules.SUBJECT_SEARCHERS))]


def _purposes(request: Request, viewer: Viewer) -> list[str]:
    policy = engine_of(request).policy.policy
    return [purpose for purpose in policy.purposes if viewer.staff.may_serve(purpose)]


def _subject_page(
    request: Request,
    viewer: Viewer,
    subject_id: str | None,
    *,
    searched: bool,
    values: dict[str, str] | None = None,
    purpose: str | None = None,
) -> HTMLResponse:
    collections = (
        engine_of(request).subject_collections(subject_id, actor=viewer.staff) if subject_id else []
    )
    return page(
        request,
        viewer,
        "subjects.html.j2",
        searched=searched,
        subject_id=subject_id if collections else None,
        collections=collections,
        purposes=sorted({info.purpose for info in collections} & set(_purposes(request, viewer))),
        values=values,
        purpose=purpose,
    )


@router.get("/subjects", response_class=HTMLResponse)
def search_form(request: Request, viewer: Searcher) -> HTMLResponse:
    """The search form."""
    return _subject_page(request, viewer, None, searched=False)


@router.post("/subjects/search", response_class=HTMLResponse)
def search(
    request: Request,
    viewer: Searcher,
    kind: Annotated[Literal["email", "phone"], Form()],
    value: Annotated[Text, Form(min_length=1, max_length=320)],
) -> HTMLResponse:
    """The subject with this email or phone, if any: its collections and their states."""
    found = engine_of(request).find_subject(
        actor=viewer.staff, kind=kind, value=value, source_ip=client_ip(request)
    )
    return _subject_page(request, viewer, found, searched=True)


@router.post("/subjects/{subject_id}/use", response_class=HTMLResponse)
def use(
    request: Request,
    viewer: Searcher,
    subject_id: IdPath,
    purpose: Annotated[Line, Form(min_length=1, max_length=63)],
    reason: Annotated[Line, Form(max_length=500)] = "",
) -> HTMLResponse:
    """The subject's items for one purpose: decided, recorded, then decrypted."""
    values = engine_of(request).use(
        actor=viewer.staff,
        subject_id=subject_id,
        purpose=purpose,
        reason=reason or None,
        source_ip=client_ip(request),
    )
    return _subject_page(request, viewer, subject_id, searched=True, values=values, purpose=purpose)
