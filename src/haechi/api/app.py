"""The HTTP API: a thin FastAPI surface over :class:`haechi.Engine`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, status
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from haechi.access.decision import Actor
from haechi.access.staff import NewCredentials, Role, require_role
from haechi.api.errors import error_body, install_error_handlers
from haechi.api.schemas import (
    CollectionCreate,
    CollectionCreated,
    CollectionDestroyed,
    CollectionPublic,
    ErrorOut,
    GrantChangePublic,
    GrantIn,
    GrantOut,
    ItemsPublic,
    LoginIn,
    LoginOut,
    LookupIn,
    LookupOut,
    PasswordChangeIn,
    PasswordResetIn,
    ReasonIn,
    RevokeIn,
    RoleIn,
    StaffCreate,
    StaffCredentials,
    StaffPublic,
    TreeHeadOut,
    WithdrawIn,
)
from haechi.config import Settings
from haechi.engine import Engine
from haechi.errors import InvalidInput, PermissionDenied
from haechi.jobs import BackgroundJobs
from haechi.subjects.service import ConsentEvidence

__all__ = ["create_app"]

_bearer = HTTPBearer(
    auto_error=False,
    description=(
        "An API token made by `haechi tokens create` (hct_…), or a staff session "
        "from POST /api/v1/auth/login (hcs_…)."
    ),
)

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422)
}


def get_engine(request: Request) -> Engine:
    """The engine of this application."""
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _secret(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise PermissionDenied("a bearer token is required", code="UNAUTHENTICATED")
    return credentials.credentials


def current_actor(engine: EngineDep, credentials: BearerDep) -> Actor:
    """The actor behind the request's bearer token or staff session, looked up on every call."""
    return engine.authenticate(_secret(credentials))


def password_changer(engine: EngineDep, credentials: BearerDep) -> Actor:
    """Like :func:`current_actor`, but also a session still on a one-time password."""
    return engine.authenticate(_secret(credentials), password_change=True)


ActorDep = Annotated[Actor, Depends(current_actor)]


def client_ip(request: Request) -> str | None:
    """The caller's address (X-Forwarded-For only when the settings trust a proxy)."""
    engine: Engine = request.app.state.engine
    if engine.settings.server.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:45]
    return request.client.host if request.client else None


IpDep = Annotated[str | None, Depends(client_ip)]
# Subject and collection ids are UUIDs; anything longer is refused before the database.
IdPath = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9A-Za-z-]+$")]

router = APIRouter(prefix="/api/v1", responses=_ERRORS)


@router.post("/collections", status_code=status.HTTP_201_CREATED, response_model=CollectionCreated)
def create_collection(
    body: CollectionCreate, engine: EngineDep, actor: ActorDep, ip: IpDep
) -> CollectionCreated:
    """Collect a subject's items for one purpose, with consent evidence."""
    result = engine.collect(
        purpose=body.purpose,
        items=body.items,
        consent=ConsentEvidence(
            granted=body.consent.granted,
            method=body.consent.method,
            text_hash=body.consent.text_hash,
            source_ip=ip,
        ),
        channel=body.channel,
        source=body.source,
        actor=actor,
    )
    return CollectionCreated(
        subject_id=result.subject_id,
        collection_id=result.collection_id,
        expires_at=result.expires_at,
        created=result.created,
    )


@router.get("/collections/{collection_id}", response_model=CollectionPublic | CollectionDestroyed)
def read_collection(
    collection_id: IdPath, engine: EngineDep, actor: ActorDep, ip: IpDep
) -> CollectionPublic | CollectionDestroyed:
    """A collection's state and dates; a destroyed one shows its state and certificate only."""
    info = engine.collection(collection_id, actor=actor, source_ip=ip)
    if info.state.value == "destroyed":
        return CollectionDestroyed(
            id=info.id, state=info.state.value, certificate_id=engine.certificate_for(info.id)
        )
    return CollectionPublic(
        id=info.id,
        subject_id=info.subject_id,
        purpose=info.purpose,
        state=info.state.value,
        consented=info.consented,
        policy_version=info.policy_version,
        collected_at=info.collected_at,
        updated_at=info.updated_at,
        expires_at=info.expires_at,
        due_at=info.due_at,
        accomplished_at=info.accomplished_at,
    )


@router.post("/collections/{collection_id}/withdraw", status_code=status.HTTP_204_NO_CONTENT)
def withdraw(
    collection_id: IdPath, body: WithdrawIn, engine: EngineDep, actor: ActorDep, ip: IpDep
) -> None:
    """Record the subject's withdrawal of consent; use stops at once."""
    engine.withdraw_consent(collection_id, method=body.method, source_ip=ip, actor=actor)


@router.post("/collections/{collection_id}/accomplished", status_code=status.HTTP_204_NO_CONTENT)
def accomplished(collection_id: IdPath, engine: EngineDep, actor: ActorDep) -> None:
    """Record that the collection's purpose is accomplished; it is destroyed within the grace."""
    engine.mark_accomplished(collection_id, actor=actor)


@router.get("/subjects/{subject_id}/items", response_model=ItemsPublic)
def read_items(
    subject_id: IdPath,
    engine: EngineDep,
    actor: ActorDep,
    ip: IpDep,
    purpose: Annotated[str, Query(min_length=1, max_length=63)],
    item: Annotated[list[str] | None, Query(description="Items to read; all by default.")] = None,
    reason: Annotated[str | None, Query(max_length=500)] = None,
    download: Annotated[
        bool, Query(description="The data leaves the system (a file): needs a reason.")
    ] = False,
) -> ItemsPublic:
    """Read a subject's items for one purpose: decided, logged, then decrypted."""
    values = engine.use(
        actor=actor,
        subject_id=subject_id,
        purpose=purpose,
        items=item,
        reason=reason,
        source_ip=ip,
        download=download,
    )
    return ItemsPublic(subject_id=subject_id, purpose=purpose, items=values)


@router.post("/subjects/lookup", response_model=LookupOut)
def lookup(body: LookupIn, engine: EngineDep, actor: ActorDep, ip: IpDep) -> LookupOut:
    """Find a subject by email or phone through the blind index."""
    return LookupOut(
        subject_id=engine.find_subject(actor=actor, kind=body.kind, value=body.value, source_ip=ip)
    )


@router.get("/audit/heads", response_model=list[TreeHeadOut], tags=["audit"])
def tree_heads(
    engine: EngineDep, since: Annotated[int, Query(ge=0, description="Only larger heads.")] = 0
) -> list[TreeHeadOut]:
    """Signed tree heads of the access log (public: sizes, roots and signatures only)."""
    return [
        TreeHeadOut.model_validate(head.to_json())
        for head in engine.tree_heads()
        if head.size > since
    ]


_LOG_READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR)


@router.get("/alerts", tags=["audit"])
def list_alerts(engine: EngineDep, actor: ActorDep) -> list[dict[str, object]]:
    """Alerts raised by the access-log monitors (privacy officer and auditors)."""
    require_role(actor, *_LOG_READERS)
    return [alert.to_json() for alert in engine.alerts()]


@router.get("/audit/review/{month}", tags=["audit"])
def monthly_review(month: str, engine: EngineDep, actor: ActorDep) -> dict[str, object]:
    """A month's accesses per actor with its alerts (privacy officer and auditors)."""
    require_role(actor, *_LOG_READERS)
    return engine.review(month).to_json()


@router.get("/audit/events/{event_id}/proof", tags=["audit"])
def event_proof(
    event_id: Annotated[int, Path(ge=1, le=2**63 - 1)], engine: EngineDep, actor: ActorDep
) -> dict[str, object]:
    """Inclusion proof of one audit event in the newest signed head."""
    return engine.prove(event_id).to_json()


@router.post("/auth/login", response_model=LoginOut, tags=["staff"])
def login(body: LoginIn, engine: EngineDep, ip: IpDep) -> LoginOut:
    """Open a staff session; a TOTP code is required from outside the trusted networks."""
    result = engine.login(
        username=body.username, password=body.password, totp=body.totp, source_ip=ip
    )
    assert result.secret is not None
    return LoginOut(
        token=result.secret,
        must_change_password=result.must_change_password,
        idle_timeout_minutes=engine.settings.auth.idle_timeout_minutes,
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def logout(engine: EngineDep, credentials: BearerDep) -> None:
    """End the calling staff session."""
    engine.logout(_secret(credentials))


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def change_password(
    body: PasswordChangeIn, engine: EngineDep, actor: Annotated[Actor, Depends(password_changer)]
) -> None:
    """Change one's own password (required after a one-time password)."""
    engine.change_password(
        actor=actor, current_password=body.current_password, new_password=body.new_password
    )


def _credentials(credentials: NewCredentials) -> StaffCredentials:
    return StaffCredentials(
        username=credentials.username,
        one_time_password=credentials.password,
        totp_uri=credentials.totp_uri,
    )


@router.get("/staff", response_model=list[StaffPublic], tags=["staff"])
def list_staff(engine: EngineDep, actor: ActorDep) -> list[StaffPublic]:
    """Every account with its role, grants and state (officer, admin, auditor)."""
    return [
        StaffPublic(
            username=account.username,
            role=account.role,
            purposes=account.purposes,
            locked=account.locked,
            failed_logins=account.failed_logins,
            must_change_password=account.must_change_password,
            totp_enrolled=account.totp_enrolled,
            created_at=account.created_at,
            last_login_at=account.last_login_at,
            disabled_at=account.disabled_at,
        )
        for account in engine.staff(actor=actor)
    ]


@router.post(
    "/staff",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffCredentials,
    tags=["staff"],
)
def create_staff(body: StaffCreate, engine: EngineDep, actor: ActorDep) -> StaffCredentials:
    """Create an account (privacy officer); its one-time credentials are shown once."""
    return _credentials(
        engine.add_staff(
            username=body.username,
            role=body.role,
            purposes=body.purposes,
            reason=body.reason,
            actor=actor,
        )
    )


@router.get("/staff/history", response_model=list[GrantChangePublic], tags=["staff"])
def staff_history(
    engine: EngineDep,
    actor: ActorDep,
    username: Annotated[str | None, Query(max_length=100)] = None,
) -> list[GrantChangePublic]:
    """The append-only history of grants, role changes and revocations."""
    return [
        GrantChangePublic(
            occurred_at=change.occurred_at,
            username=change.username,
            change=change.change,
            purpose=change.purpose,
            role=change.role,
            changed_by=change.changed_by,
            reason=change.reason,
        )
        for change in engine.grant_history(username=username, actor=actor)
    ]


@router.post("/staff/{username}/grants", response_model=GrantOut, tags=["staff"])
def grant_staff(username: str, body: GrantIn, engine: EngineDep, actor: ActorDep) -> GrantOut:
    """Grant a handler purposes (privacy officer)."""
    granted = engine.grant_staff(username, purposes=body.purposes, reason=body.reason, actor=actor)
    return GrantOut(granted=granted)


@router.post("/staff/{username}/revoke", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def revoke_staff(username: str, body: RevokeIn, engine: EngineDep, actor: ActorDep) -> None:
    """Revoke grants or close the account (officer or admin); effective on the next call."""
    if body.account == bool(body.purposes):
        raise InvalidInput("give purposes or account: true, not both", field="purposes")
    if body.account:
        engine.disable_staff(username, reason=body.reason, actor=actor)
    else:
        engine.revoke_staff(username, purposes=body.purposes, reason=body.reason, actor=actor)


@router.put("/staff/{username}/role", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def change_role(username: str, body: RoleIn, engine: EngineDep, actor: ActorDep) -> None:
    """Change an account's role (privacy officer)."""
    engine.change_staff_role(username, role=body.role, reason=body.reason, actor=actor)


@router.post("/staff/{username}/unlock", status_code=status.HTTP_204_NO_CONTENT, tags=["staff"])
def unlock_staff(username: str, body: ReasonIn, engine: EngineDep, actor: ActorDep) -> None:
    """Lift a lockout after failed logins (privacy officer)."""
    engine.unlock_staff(username, reason=body.reason, actor=actor)


@router.post("/staff/{username}/password-reset", response_model=StaffCredentials, tags=["staff"])
def reset_password(
    username: str, body: PasswordResetIn, engine: EngineDep, actor: ActorDep
) -> StaffCredentials:
    """A new one-time password, shown once (privacy officer); the account's sessions end."""
    return _credentials(
        engine.reset_staff_password(
            username, new_totp=body.new_totp, reason=body.reason, actor=actor
        )
    )


@router.get("/health", include_in_schema=False)
def health() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok"}


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, jobs: bool = False
) -> FastAPI:
    """The application; opens an engine from ``settings`` unless one is given.

    With ``jobs`` the server also runs the background jobs (sealing the log…).
    """
    if engine is None and settings is None:
        raise ValueError("create_app needs settings or an engine")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        app.state.engine = engine if engine is not None else Engine.open(settings)  # type: ignore[arg-type]
        background = BackgroundJobs.for_engine(app.state.engine) if jobs else None
        if background is not None:
            background.start()
        try:
            yield
        finally:
            if background is not None:
                background.stop()
            if owned:
                app.state.engine.close()

    app = FastAPI(
        title="Haechi",
        summary="Personal-information custody engine",
        version="0.1.0",
        lifespan=lifespan,
    )
    if engine is not None:
        app.state.engine = engine
    install_error_handlers(app)

    @app.middleware("http")
    async def refuse_nul_in_url(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # No database column can hold a NUL; refuse it before any work is logged.
        if "\x00" in request.url.path or any(
            "\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()
        ):
            return JSONResponse(
                error_body("the URL contains a NUL character", "INVALID_INPUT", field="url"),
                status_code=400,
            )
        return await call_next(request)

    app.include_router(router)
    return app
