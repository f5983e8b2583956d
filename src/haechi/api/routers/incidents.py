"""The breach register for the console: open, read, contain, notify, report, close.

The privacy officer does everything; auditors read the register, an incident and
its proofs. Roles are checked by the engine, like the staff routes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime, Field, StrictBool, StrictStr

from haechi.access.roles import Role, require_role
from haechi.api.deps import ERRORS, ActorDep, EngineDep
from haechi.api.schemas import Line, Text, _Body
from haechi.errors import Conflict
from haechi.incidents.scope import MAX_ACTORS, MAX_NETWORKS, MAX_TEXT, MAX_TITLE
from haechi.mail.incidents import mail_incident_notices
from haechi.web.incident_report import render_regulator_report

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", responses=ERRORS)
IncidentId = Annotated[str, Path(min_length=1, max_length=36)]
ActorName = Annotated[Line, Field(min_length=1, max_length=100)]
NetworkText = Annotated[Line, Field(min_length=1, max_length=64)]
#: the most notices one call sends (the console calls again until none are left)
MAX_NOTICES_PER_CALL = 200


class IncidentIn(_Body):
    """A new incident: what happened, when you became aware, whom and when to search."""

    title: Line = Field(min_length=1, max_length=MAX_TITLE)
    aware_at: AwareDatetime
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")
    actors: list[ActorName] = Field(default_factory=list, max_length=MAX_ACTORS)
    networks: list[NetworkText] = Field(default_factory=list, max_length=MAX_NETWORKS)
    circumstances: Text = Field(default="", max_length=MAX_TEXT)
    outside_access: StrictBool = False


class ContainmentIn(_Body):
    """One containment step; a token or account named here is revoked now."""

    kind: Literal["token_revoked", "account_disabled", "keys_rotated", "other"]
    target: StrictStr | None = Field(default=None, min_length=1, max_length=100)
    note: Text = Field(default="", max_length=MAX_TEXT)


@router.post("/incidents", status_code=status.HTTP_201_CREATED, tags=["incidents"])
def open_incident(body: IncidentIn, engine: EngineDep, actor: ActorDep) -> dict[str, Any]:
    """Open an incident: the affected people from the log, frozen and sealed (officer)."""
    incident = engine.open_incident(
        title=body.title,
        aware_at=body.aware_at,
        start=body.start,
        end=body.end,
        actors=body.actors,
        networks=body.networks,
        circumstances=body.circumstances,
        outside_access=body.outside_access,
        actor=actor,
    )
    return incident.to_json(now=engine.clock())


@router.get("/incidents", tags=["incidents"])
def list_incidents(
    engine: EngineDep,
    actor: ActorDep,
    open_only: Annotated[bool, Query(alias="open", description="Open ones only.")] = False,
) -> list[dict[str, Any]]:
    """The register, newest first (officer and auditors)."""
    now = engine.clock()
    return [one.to_json(now=now) for one in engine.incidents(actor=actor, open_only=open_only)]


@router.get("/incidents/{incident_id}", tags=["incidents"])
def show_incident(incident_id: IncidentId, engine: EngineDep, actor: ActorDep) -> dict[str, Any]:
    """One incident: details, counts, containment, notices (officer and auditors)."""
    return engine.incident(incident_id, actor=actor)


@router.get("/incidents/{incident_id}/subjects", tags=["incidents"])
def incident_subjects(
    incident_id: IncidentId, engine: EngineDep, actor: ActorDep
) -> list[dict[str, Any]]:
    """The people affected and what was read of each (officer; an audit event)."""
    return [
        {"subject_id": subject, **reads}
        for subject, reads in engine.incident_subjects(incident_id, actor=actor)
    ]


@router.get("/incidents/{incident_id}/proofs", tags=["incidents"])
def incident_proofs(
    incident_id: IncidentId,
    engine: EngineDep,
    actor: ActorDep,
    event: Annotated[list[int] | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    """Inclusion proofs of the incident's sealed events (the first 1,000, or those asked)."""
    proofs, unsealed = engine.incident_proofs(incident_id, actor=actor, event_ids=event)
    return {
        "proofs": [{**proof.to_json(), "verified": proof.verify()} for proof in proofs],
        "unsealed": unsealed,
    }


@router.post("/incidents/{incident_id}/containment", tags=["incidents"])
def contain(
    incident_id: IncidentId, body: ContainmentIn, engine: EngineDep, actor: ActorDep
) -> dict[str, Any]:
    """Record containment; a token or account is revoked through the usual path (officer)."""
    step = engine.contain(
        incident_id, kind=body.kind, target=body.target, note=body.note, actor=actor
    )
    return step.to_json()


@router.post("/incidents/{incident_id}/notify", tags=["incidents"])
def notify(
    incident_id: IncidentId,
    request: Request,
    engine: EngineDep,
    actor: ActorDep,
    retry: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_NOTICES_PER_CALL)] = MAX_NOTICES_PER_CALL,
) -> dict[str, int]:
    """Send up to ``limit`` pending notices; call again until ``left`` is 0 (officer)."""
    # The role first: a caller who may not notify learns nothing of the mail settings.
    require_role(actor, Role.PRIVACY_OFFICER)
    notifier = request.app.state.notifier
    if notifier is None:
        raise Conflict("mail is not configured", code="MAIL_DISABLED")
    tally = mail_incident_notices(
        engine, notifier, incident_id, actor=actor, retry=retry, limit=limit
    )
    return {"sent": tally.sent, "unreachable": tally.unreachable, "left": tally.left}


@router.post("/incidents/{incident_id}/report", tags=["incidents"], response_model=None)
def report(
    incident_id: IncidentId,
    engine: EngineDep,
    actor: ActorDep,
    format: Literal["json", "html"] = "json",
    lang: Literal["ko", "en"] = "ko",
) -> dict[str, Any] | HTMLResponse:
    """The report to the regulator, as JSON or a printable page (officer)."""
    fields = engine.regulator_report(incident_id, actor=actor)
    if format == "html":
        return HTMLResponse(render_regulator_report(fields, lang=lang))
    return fields


@router.post("/incidents/{incident_id}/close", tags=["incidents"])
def close(incident_id: IncidentId, engine: EngineDep, actor: ActorDep) -> dict[str, Any]:
    """Close an incident; its records stay (officer)."""
    return engine.close_incident(incident_id, actor=actor).to_json()
