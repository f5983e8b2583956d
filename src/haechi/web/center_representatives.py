"""The privacy center's page for representatives: the request and its proof, uploaded.

A legal representative or a delegate fills in whom they act for, who they are, where the
answer goes, and attaches the proof (PDF, PNG or JPEG, at most the smaller of the rights
service's document limit and the server's body limit). The proof is sealed under the
request's key; staff verify the request from it. The receipt is the same whether or not
the person is on file, and repeats nothing typed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from haechi.engine.rights_inputs import PROOF
from haechi.errors import HaechiError
from haechi.rights.models import Requester
from haechi.web.center import AcceptLanguage, Lang, Visit
from haechi.web.center_requests import on_contact

__all__ = ["PROOF_TYPES", "router"]

router = APIRouter(include_in_schema=False)

PATH = "/privacy/requests/representative"
PROOF_TYPES = ("application/pdf", "image/png", "image/jpeg")
_FORM = "center/representative_form.html.j2"
# Room in the body for the form's other fields and the multipart framing.
_FRAMING = 64 * 1024
_REQUESTERS = (Requester.DELEGATE.value, Requester.LEGAL_REPRESENTATIVE.value)


def _max_proof(visit: Visit) -> int:
    body = visit.engine.settings.server.max_body_bytes - _FRAMING
    return max(1, min(visit.engine.request_rules.max_document_bytes, body))


def _context(visit: Visit) -> dict[str, object]:
    policy = visit.engine.policy.policy
    return {
        "rights": [str(kind) for kind in policy.rights.kinds],
        "purposes": [(name, p.label.get(visit.lang)) for name, p in policy.purposes.items()],
        "max_kib": _max_proof(visit) // 1024,
    }


@router.get(PATH, response_class=HTMLResponse)
def representative_form(
    request: Request, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """The form for a representative."""
    visit = Visit.of(request, lang, accept)
    return visit.render(_FORM, path=PATH, context=_context(visit))


@router.post(PATH, response_class=HTMLResponse)
async def representative_request(
    request: Request, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """Take a representative's request with its proof."""
    visit = Visit.of(request, lang, accept)
    values: dict[str, object] = {}
    try:
        fields = await visit.posted(max_files=1)
        policy = visit.engine.policy.policy
        kind = fields.choice("kind", [str(k) for k in policy.rights.kinds])
        requester = fields.choice("requester", _REQUESTERS)
        contact = fields.text("contact", max_length=320)
        purposes = fields.choices("purposes", list(policy.purposes))
        name = fields.text("representative.name", max_length=200)
        relation = fields.text("representative.relation", max_length=200, required=False)
        reply_to = fields.text("reply_to", max_length=320)
        proof = await fields.file("proof", max_bytes=_max_proof(visit), media_types=PROOF_TYPES)
        values = {
            "kind": kind,
            "requester": requester,
            "contact": contact,
            "purposes": purposes,
            "representative.name": name,
            "representative.relation": relation,
            "reply_to": reply_to,
        }
        fields.done()
        assert proof is not None
        by_email = "@" in contact
        particulars = {"name": name, **({"relation": relation} if relation else {})}
        try:
            receipt = visit.engine.submit_representative_request(
                kind=kind,
                requester=requester,
                representative=particulars,
                reply_to=reply_to,
                attachments=[(PROOF[Requester(requester)], proof.media_type, proof.content)],
                email=contact if by_email else None,
                phone=None if by_email else contact,
                purposes=purposes or None,
                lang=visit.lang,
                source_ip=visit.source_ip,
            )
        except HaechiError as error:
            raise on_contact(error) from None
    except HaechiError as error:
        return visit.refused(_FORM, error, path=PATH, values=values, context=_context(visit))
    return visit.render(
        "center/representative_receipt.html.j2",
        path="/privacy/status",
        status_code=202,
        request_id=receipt.request_id,
        status_token=receipt.status_token,
    )
