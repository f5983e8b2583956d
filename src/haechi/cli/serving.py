"""How ``haechi serve`` runs: one process, or a supervisor and ``--workers`` processes.

With one worker the server process serves requests and runs the background jobs. With
several, uvicorn's supervisor starts that many worker processes (fresh interpreters,
``spawn``) that share the listening socket and only serve requests; the supervisor runs
the background jobs. Either way every job takes its lock first (:mod:`haechi.jobs`), so
it runs once however many servers share the database. Several processes are correct on
SQLite as on PostgreSQL: WAL lets them read side by side, and each write transaction
takes SQLite's one write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import functools
import os
import socket

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from haechi.api import create_app
from haechi.api.logs import redact_server_logs
from haechi.api.protocol import BoundedHttpTools, HeadLimits
from haechi.cli.common import log_jobs
from haechi.config import Settings
from haechi.engine import Engine
from haechi.jobs import BackgroundJobs
from haechi.web import export_renderer

__all__ = ["serve_on", "worker_app"]

#: How a worker process finds its installation (the URL stays out of argv: it may hold a
#: password). Set by the supervisor before it starts the workers.
DATA_VARIABLE = "HAECHI__DATA_DIR"
URL_VARIABLE = "HAECHI__DATABASE__URL"


def _uvicorn_config(app: FastAPI | str, *, workers: int, settings: Settings) -> uvicorn.Config:
    # The application resolves the client from server.trusted_proxies itself
    # (haechi.api.middleware); uvicorn must never rewrite it from headers.
    limits = HeadLimits(seconds=settings.server.header_timeout_seconds)
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        log_level="info",
        proxy_headers=False,
        forwarded_allow_ips=[],
        # Heads bounded in size, count and time (haechi.api.protocol).
        http=functools.partial(BoundedHttpTools, limits=limits),  # type: ignore[arg-type]
        # A worker answers the supervisor's pings from a thread of its own; on a loaded
        # machine its start (imports, the engine) can keep that thread from running for
        # seconds, and uvicorn's 5 s default then kills and restarts it again and again.
        timeout_worker_healthcheck=30,
    )


def _application(engine: Engine, *, jobs: bool) -> FastAPI:
    return create_app(
        engine=engine, jobs=jobs, export_renderer=export_renderer(lambda: engine.policy.policy)
    )


def worker_app() -> FastAPI:
    """The application of one worker process (uvicorn calls this factory in the worker)."""
    settings = Settings.load(None)
    # The supervisor migrated the database before starting the workers.
    application = _application(Engine.open(settings, migrate=False, serving=True), jobs=False)
    # uvicorn set its logging up in this process before loading the app.
    redact_server_logs(application)
    return application


def serve_on(sock: socket.socket, engine: Engine, *, workers: int) -> None:
    """Serve on the bound ``sock`` until stopped: in this process, or in ``workers``."""
    log_jobs()
    if workers == 1:
        application = _application(engine, jobs=True)
        config = _uvicorn_config(application, workers=1, settings=engine.settings)
        # After the Config, which sets uvicorn's logging up: no client text in its lines.
        redact_server_logs(application)
        uvicorn.Server(config).run(sockets=[sock])
        return
    os.environ[DATA_VARIABLE] = str(engine.settings.data_dir.resolve())
    os.environ[URL_VARIABLE] = engine.settings.database_url
    config = _uvicorn_config(f"{__name__}:worker_app", workers=workers, settings=engine.settings)
    jobs = BackgroundJobs.for_engine(engine)
    jobs.start()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        jobs.stop()
