"""The HTTP API: a thin FastAPI surface over :class:`haechi.Engine`.

:func:`create_app` composes one router per area (``haechi.api.routers``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from haechi.api.deps import lane_of
from haechi.api.docs import install_docs
from haechi.api.errors import install_error_handlers
from haechi.api.hot import HotRoutes
from haechi.api.middleware import ClientAddress, RequestLimits
from haechi.api.routers import (
    audit,
    auth,
    collections,
    complaints,
    incidents,
    optout,
    policy,
    public,
    requests,
    staff,
    subjects,
)
from haechi.config import Settings
from haechi.engine import Engine
from haechi.jobs import BackgroundJobs
from haechi.mail import Notifier, SmtpNotifier
from haechi.mail.requests import CodeCourier, ExportRenderer
from haechi.web import console
from haechi.web.site import install_public_site

__all__ = ["create_app"]


def health() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok"}


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    jobs: bool = False,
    notifier: Notifier | None = None,
    export_renderer: ExportRenderer | None = None,
    hot_routes: bool = True,
) -> FastAPI:
    """The application; opens an engine from ``settings`` unless one is given.

    With ``jobs`` the server also runs the background jobs (sealing the log…).
    ``notifier`` mails people about their requests (SMTP from the settings by default);
    ``export_renderer`` adds the readable page to an access request's answer.
    ``hot_routes=False`` leaves every request to FastAPI (the tests compare the two).
    """
    if settings is None:
        if engine is None:
            raise ValueError("create_app needs settings or an engine")
        settings = engine.settings
    opened_from = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Request threads never outnumber pooled connections (config.ServerSettings.threads).
        to_thread.current_default_thread_limiter().total_tokens = opened_from.server.threads
        owned = engine is None
        app.state.engine = engine if engine is not None else Engine.open(opened_from)
        # The collections' lane, made afresh on this event loop (deps.lane_of).
        app.state.lane = None
        lane_of(app.state)
        background = BackgroundJobs.for_engine(app.state.engine) if jobs else None
        if background is not None:
            background.start()
        # One-time codes go out from a thread of their own (see mail.requests.CodeCourier).
        app.state.codes = CodeCourier(app.state.engine, app.state.notifier)
        app.state.codes.start()
        try:
            yield
        finally:
            app.state.codes.stop()
            if background is not None:
                background.stop()
            if owned:
                app.state.engine.close()

    app = FastAPI(
        title="Haechi",
        summary="Personal-information custody engine",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry export stays off: its request spans would carry
        # paths (a subject's id) and exception details to whatever collector the
        # host happens to configure, unasked.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # A path with a slash too many is not found, not redirected: the redirect
        # would build its URL from the client's Host header and echo its query.
        redirect_slashes=False,
    )
    if engine is not None:
        app.state.engine = engine
    install_error_handlers(app)
    if notifier is None and settings.mail.smtp_host:
        notifier = SmtpNotifier(settings.mail)
    app.state.notifier = notifier
    app.state.export_renderer = export_renderer

    server = settings.server
    # The last added runs first: limits, then the client address, then the plain form
    # of the two hottest calls (haechi.api.hot), then FastAPI's routing.
    if hot_routes:
        app.add_middleware(HotRoutes, application=app)
    app.add_middleware(ClientAddress, trusted_proxies=server.trusted_proxies)
    app.add_middleware(
        RequestLimits,
        max_body_bytes=server.max_body_bytes,
        body_timeout_seconds=server.body_timeout_seconds,
    )

    areas = (
        collections,
        subjects,
        audit,
        auth,
        staff,
        policy,
        public,
        requests,
        complaints,
        incidents,
    )
    for area in (*areas, optout, console):
        app.include_router(area.router)
    app.add_api_route("/api/v1/health", health, methods=["GET"], include_in_schema=False)
    install_docs(app)
    # After the docs: their /static/swagger mount is matched first.
    install_public_site(app)
    return app
