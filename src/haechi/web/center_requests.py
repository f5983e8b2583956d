"""The privacy center's request pages: a form per right, the mailed code, the status.

Over the same engine calls as ``/api/v1/public/requests``: a request is answered alike
whether or not the person is on file (the code page says a code was mailed *if* the
address is known, and repeats no address), the code is mailed after the answer, and
the status token is shown once to keep and travels afterwards only in POST bodies,
never in a URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from haechi.errors import HaechiError, NotFound, Problem
from haechi.mail.requests import post_code
from haechi.policy.schema import Policy
from haechi.rights.models import CodeMail, PublicStatus
from haechi.web.center import AcceptLanguage, Lang, Visit, follow_routes
from haechi.web.forms import Fields

__all__ = ["REQUEST_ID", "STATUS_TOKEN", "on_contact", "router", "status_rows"]

router = APIRouter(include_in_schema=False)

REQUEST_ID = re.compile(r"[0-9A-Za-z-]{1,36}")
STATUS_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
_CODE = re.compile(r"[0-9]{6}")
_MAX_CONTACT = 320
# The longest value an item may declare; the policy's own bound is checked by the engine.
_MAX_VALUE = 10_000
KindPath = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[a-z]+$")]


def _mail_code(visit: Visit, mail: CodeMail | None) -> None:
    # Known address or not, the same work goes to the courier (see CodeCourier).
    post_code(visit.request.app.state, visit.engine, mail, lang=visit.lang)


def _purposes(policy: Policy, lang: str) -> list[tuple[str, str]]:
    return [(name, purpose.label.get(lang)) for name, purpose in policy.purposes.items()]


def _items(policy: Policy, lang: str) -> list[tuple[str, str]]:
    return [(name, item.label.get(lang)) for name, item in policy.items.items()]


def _offered(visit: Visit, kind: str) -> None:
    if kind not in {str(value) for value in visit.engine.policy.policy.rights.kinds}:
        raise NotFound("the policy offers no such request", field="kind")


def on_contact(error: HaechiError) -> HaechiError:
    """``error`` with the engine's ``email``/``phone`` fields named as the form's ``contact``."""
    if not any(problem.field in ("email", "phone") for problem in error.faults):
        return error
    moved = tuple(
        Problem("contact", problem.code, problem.message)
        if problem.field in ("email", "phone")
        else problem
        for problem in error.faults
    )
    return type(error)(error.message, field=moved[0].field, code=error.code, problems=moved)


@router.get("/privacy/requests", response_class=HTMLResponse)
def choose(request: Request, lang: Lang = None, accept: AcceptLanguage = None) -> HTMLResponse:
    """Which right to exercise."""
    visit = Visit.of(request, lang, accept)
    rights = [str(kind) for kind in visit.engine.policy.policy.rights.kinds]
    return visit.render("center/requests.html.j2", path="/privacy/requests", rights=rights)


def _form(
    visit: Visit,
    kind: str,
    *,
    error: HaechiError | None = None,
    values: dict[str, object] | None = None,
) -> HTMLResponse:
    policy = visit.engine.policy.policy
    context: dict[str, object] = {
        "kind": kind,
        "purposes": _purposes(policy, visit.lang),
        "items": _items(policy, visit.lang),
    }
    template, path = "center/request_form.html.j2", f"/privacy/requests/{kind}"
    if error is not None:
        return visit.refused(template, error, path=path, values=values, context=context)
    return visit.render(template, path=path, context=context)


@router.get("/privacy/requests/{kind}", response_class=HTMLResponse)
def request_form(
    request: Request, kind: KindPath, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """The form of one right."""
    visit = Visit.of(request, lang, accept)
    try:
        _offered(visit, kind)
    except NotFound as error:
        return visit.refused("center/not_found.html.j2", error, path="/privacy/requests")
    return _form(visit, kind)


@router.post("/privacy/requests/{kind}", response_class=HTMLResponse)
async def submit(
    request: Request,
    kind: KindPath,
    lang: Lang = None,
    accept: AcceptLanguage = None,
) -> HTMLResponse:
    """Take the request; a code goes to the address if it is on file."""
    visit = Visit.of(request, lang, accept)
    values: dict[str, object] = {}
    try:
        _offered(visit, kind)
        fields = await visit.posted()
        policy = visit.engine.policy.policy
        contact = fields.text("contact", max_length=_MAX_CONTACT)
        purposes = fields.choices("purposes", list(policy.purposes))
        corrections: dict[str, object] = {}
        if kind == "correction":
            for name in policy.items:
                value = fields.text(f"corrections.{name}", max_length=_MAX_VALUE, required=False)
                if value:
                    corrections[name] = value
        values = {
            "contact": contact,
            "purposes": purposes,
            **{f"corrections.{name}": value for name, value in corrections.items()},
        }
        fields.done()
        by_email = "@" in contact
        try:
            receipt = visit.engine.submit_request(
                kind=kind,
                email=contact if by_email else None,
                phone=None if by_email else contact,
                purposes=purposes or None,
                lang=visit.lang,
                corrections=corrections or None,
                source_ip=visit.source_ip,
            )
        except HaechiError as error:
            raise on_contact(error) from None
    except NotFound as error:
        return visit.refused("center/not_found.html.j2", error, path="/privacy/requests")
    except HaechiError as error:
        return _form(visit, kind, error=error, values=values)
    _mail_code(visit, receipt.code_mail)
    return visit.render(
        "center/code.html.j2",
        path="/privacy/status",
        status_code=202,
        request_id=receipt.request_id,
        status_token=receipt.status_token,
        resent=False,
    )


def _receipt(fields: Fields) -> tuple[str, str]:
    return (
        fields.text("request_id", max_length=36, pattern=REQUEST_ID),
        fields.text("status_token", max_length=100, pattern=STATUS_TOKEN),
    )


def _code_page(
    visit: Visit, error: HaechiError, request_id: str, status_token: str
) -> HTMLResponse:
    if not request_id or not status_token or isinstance(error, NotFound):
        # Without a receipt that holds, the code form cannot be shown again: the status form.
        return visit.refused("center/status_form.html.j2", error, path="/privacy/status")
    return visit.refused(
        "center/code.html.j2",
        error,
        path="/privacy/status",
        request_id=request_id,
        status_token=status_token,
        resent=False,
    )


async def _receipt_step(
    visit: Visit, step: Callable[[str, str, Fields], HTMLResponse]
) -> HTMLResponse:
    """``step`` on the request the posted receipt names; the code page again on an error."""
    request_id = status_token = ""
    try:
        fields = await visit.posted()
        request_id, status_token = _receipt(fields)
        return step(request_id, status_token, fields)
    except HaechiError as error:
        return _code_page(visit, error, request_id, status_token)


@router.post("/privacy/verify", response_class=HTMLResponse)
async def verify(
    request: Request, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """Confirm a request with the code from the mail."""
    visit = Visit.of(request, lang, accept)

    def confirm(request_id: str, status_token: str, fields: Fields) -> HTMLResponse:
        code = fields.text("code", max_length=6, pattern=_CODE)
        fields.done()
        status = visit.engine.verify_request_code(
            request_id, status_token=status_token, code=code, source_ip=visit.source_ip
        )
        return _status_page(visit, status)

    return await _receipt_step(visit, confirm)


@router.post("/privacy/verify/new-code", response_class=HTMLResponse)
async def resend(
    request: Request, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """Mail a new code (the earlier one stops working)."""
    visit = Visit.of(request, lang, accept)

    def new_code(request_id: str, status_token: str, fields: Fields) -> HTMLResponse:
        fields.done()
        mail = visit.engine.resend_code(
            request_id, status_token=status_token, source_ip=visit.source_ip
        )
        _mail_code(visit, mail)
        return visit.render(
            "center/code.html.j2",
            path="/privacy/status",
            status_code=202,
            request_id=request_id,
            status_token=status_token,
            resent=True,
        )

    return await _receipt_step(visit, new_code)


def status_rows(status: PublicStatus) -> dict[str, object]:
    """What the status page shows of a request."""
    return {
        "request_id": status.request_id,
        "kind": status.kind,
        "state": status.state,
        "received": status.received_at.strftime("%Y-%m-%d %H:%M UTC"),
        "due": status.due_at.strftime("%Y-%m-%d"),
        "refusal_reason": status.refusal_reason,
        "refusal_until": status.refusal_until.strftime("%Y-%m-%d")
        if status.refusal_until
        else None,
        "postpone_reason": status.postpone_reason,
    }


def _status_page(visit: Visit, status: PublicStatus) -> HTMLResponse:
    return visit.render("center/status.html.j2", path="/privacy/status", status=status_rows(status))


def _request_status(visit: Visit, request_id: str, status_token: str) -> HTMLResponse:
    found = visit.engine.request_status(
        request_id, status_token=status_token, source_ip=visit.source_ip
    )
    return _status_page(visit, found)


follow_routes(
    router,
    path="/privacy/status",
    template="center/status_form.html.j2",
    id_field="request_id",
    token_pattern=STATUS_TOKEN,
    show=_request_status,
)
