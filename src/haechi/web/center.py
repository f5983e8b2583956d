"""The public privacy center: its shared page machinery and its front page.

Every page is rendered on the server in the visitor's language (``?lang=`` first, then
Accept-Language) with the layout ``center/_layout.html.j2``. Every form is a plain
POST that works without script, carries the CSRF token of the visitor's cookie
(:mod:`haechi.web.forms`) and is refused unread past its bounds. Errors come back as
the same page with status 4xx, each next to its field; what is shown again is only
what the visitor typed into that form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from haechi.engine import Engine
from haechi.errors import (
    Conflict,
    HaechiError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyViolation,
)
from haechi.rights.codes import RateLimited
from haechi.web.forms import (
    CSRF_FIELD,
    Csrf,
    CsrfRefused,
    Fields,
    anonymous_binding,
    field_errors,
    read_form,
    secure_cookies,
    set_binding_cookie,
)
from haechi.web.i18n import environment
from haechi.web.pages import html_response
from haechi.web.public import preferred_language

__all__ = [
    "AcceptLanguage",
    "Lang",
    "Visit",
    "csrf_of",
    "engine_of",
    "follow_routes",
    "page_status",
    "router",
]

router = APIRouter(include_in_schema=False)

Lang = Annotated[Literal["ko", "en"] | None, Query(description="ko or en")]
AcceptLanguage = Annotated[str | None, Header(alias="accept-language")]
# Request and complaint ids are UUIDs; anything longer or stranger is refused unread.
_ID = re.compile(r"[0-9A-Za-z-]{1,36}")
_LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}
# Most specific first, as the API's table: the page's status for each kind of error.
_STATUS: tuple[tuple[type[HaechiError], int], ...] = (
    (RateLimited, 429),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PolicyViolation, 422),
    (InvalidInput, 422),
)


def page_status(error: HaechiError) -> int:
    """The HTTP status of a page that shows ``error``."""
    if error.code == RateLimited.code:
        # The complaints intake has its own limit error; both are "too many".
        return 429
    return next((status for base, status in _STATUS if isinstance(error, base)), 400)


def engine_of(request: Request) -> Engine:
    """The application's engine."""
    engine: Engine = request.app.state.engine
    return engine


def csrf_of(request: Request) -> Csrf:
    """The application's CSRF signer, made once from the engine's key provider."""
    state = request.app.state
    signer: Csrf | None = getattr(state, "csrf", None)
    if signer is None:
        signer = Csrf.from_keys(engine_of(request).keys)
        state.csrf = signer
    return signer


@dataclass
class Visit:
    """One request to a page of the center: its language and the visitor's CSRF binding."""

    request: Request
    lang: str
    binding: str
    new_binding: bool

    @classmethod
    def of(cls, request: Request, lang: str | None, accept: str | None) -> Visit:
        """The visit, its language chosen as the policy pages choose it."""
        binding, new = anonymous_binding(request)
        return cls(request, lang or preferred_language(accept), binding, new)

    @property
    def engine(self) -> Engine:
        """The application's engine."""
        return engine_of(self.request)

    @property
    def source_ip(self) -> str | None:
        """The client's address, as the request limits resolved it."""
        client = self.request.client
        return client.host if client else None

    def render(
        self,
        template: str,
        *,
        path: str,
        status_code: int = 200,
        errors: Mapping[str, str] | None = None,
        values: Mapping[str, object] | None = None,
        context: Mapping[str, object] | None = None,
        **more: object,
    ) -> HTMLResponse:
        """The page ``template`` in the visit's language; ``path`` is its GET address."""
        other = "en" if self.lang == "ko" else "ko"
        controller = self.engine.policy.policy.controller.name.get(self.lang)
        html = (
            environment(self.lang, "html")
            .get_template(template)
            .render(
                csrf_token=csrf_of(self.request).token(self.binding),
                switch_href=f"{path}?lang={other}",
                other_lang=other,
                other_label=_LANGUAGE_NAMES[other],
                controller=controller,
                errors=dict(errors or {}),
                values=dict(values or {}),
                **(context or {}),
                **more,
            )
        )
        response = html_response(html, status_code=status_code)
        if self.new_binding:
            set_binding_cookie(response, self.binding, secure=secure_cookies(self.request))
        return response

    def refused(
        self,
        template: str,
        error: HaechiError,
        *,
        path: str,
        values: Mapping[str, object] | None = None,
        context: Mapping[str, object] | None = None,
        **more: object,
    ) -> HTMLResponse:
        """``template`` again with ``error``'s fields marked, under the error's status."""
        response = self.render(
            template,
            path=path,
            status_code=page_status(error),
            errors=field_errors(error),
            values=values,
            context={**(context or {}), **more},
        )
        if response.status_code == 429:
            response.headers["Retry-After"] = "600"
        return response

    async def posted(self, *, max_files: int = 0) -> Fields:
        """The form sent, read within bounds, its CSRF token checked.

        A bad token is a fault of the form like any other: :meth:`Fields.done` refuses
        it, and the page can still show the visitor what they typed.
        """
        form: FormData = await read_form(self.request, max_files=max_files)
        fields = Fields(form)
        try:
            # The cookie the browser sent is the binding: a new one means there was none.
            csrf_of(self.request).check(
                form.get(CSRF_FIELD), None if self.new_binding else self.binding
            )
        except CsrfRefused as refused:
            fields.problems.extend(refused.faults)
        return fields


def follow_routes(
    router: APIRouter,
    *,
    path: str,
    template: str,
    id_field: str,
    token_pattern: re.Pattern[str],
    show: Callable[[Visit, str, str], HTMLResponse],
) -> None:
    """Add the follow form at ``path`` (GET) and its answer (POST) to ``router``.

    The answer is ``show(visit, id, status token)``, or the form again with its errors;
    only the id typed is shown again, never the status key.
    """

    def form(request: Request, lang: Lang = None, accept: AcceptLanguage = None) -> HTMLResponse:
        return Visit.of(request, lang, accept).render(template, path=path)

    async def answer(
        request: Request, lang: Lang = None, accept: AcceptLanguage = None
    ) -> HTMLResponse:
        visit = Visit.of(request, lang, accept)
        values: dict[str, object] = {}
        try:
            fields = await visit.posted()
            found_id = fields.text(id_field, max_length=36, pattern=_ID)
            token = fields.text("status_token", max_length=100, pattern=token_pattern)
            values = {id_field: found_id}
            fields.done()
            return show(visit, found_id, token)
        except HaechiError as error:
            return visit.refused(template, error, path=path, values=values)

    router.add_api_route(path, form, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(path, answer, methods=["POST"], response_class=HTMLResponse)


@router.get("/privacy/center", response_class=HTMLResponse)
def center(request: Request, lang: Lang = None, accept: AcceptLanguage = None) -> HTMLResponse:
    """The front page: what a person can do here."""
    visit = Visit.of(request, lang, accept)
    rights = [str(kind) for kind in visit.engine.policy.policy.rights.kinds]
    return visit.render("center/home.html.j2", path="/privacy/center", rights=rights)
