"""The two hottest operations served without the framework's per-request machinery.

An audited read (``GET /api/v1/subjects/{id}/items?purpose=…``) and a collection
(``POST /api/v1/collections``) are most of a deployment's traffic. Through FastAPI each
pays for routing through the included routers, dependency resolution, query and
response validation and the exception middleware: about a quarter of the server's
interpreter time under load (docs/benchmarks.md). :class:`HotRoutes`, the innermost
ASGI middleware, answers the plain form of these two requests itself and hands every
other request, and every request of these two kinds in any other form, to FastAPI
unchanged. The routes stay declared in FastAPI (the OpenAPI document, and the path
every other form of the request takes).

What makes the outcome the same either way:

* the work is one function per operation, called by both paths
  (:func:`haechi.api.routers.subjects.read_items_now`,
  :func:`haechi.api.routers.collections.collect_now`);
* the hot path takes a request only when what FastAPI would do with it is plain: the
  read with exactly one query parameter, ``purpose``, of 1–63 characters; the collection
  with a JSON body that the route's own model (:class:`CollectionCreate`) accepts,
  validated as FastAPI validates it (parsed, then validated in Python mode) and received
  whole; both with a bearer credential as ``HTTPBearer`` reads it, and not under a root
  path. Anything else (no credential, another parameter, a body the model refuses or
  that cannot be parsed, a client gone mid-body…) goes to FastAPI, a consumed body
  replayed to it as received, so every refusal is FastAPI's own;
* an error raised by the work is answered by the application's own exception handler
  for it (as Starlette's exception middleware looks it up); an error without one
  propagates to the server-error middleware, as from a route;
* the response is the route's response model, serialised by pydantic.

It runs inside :class:`~haechi.api.middleware.RequestLimits` and
:class:`~haechi.api.middleware.ClientAddress`: the body is bounded and the client
address resolved before it looks at a request. ``tests/api/test_hot_routes.py`` runs
the same requests with and without it and compares the answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Any, cast

from anyio import to_thread
from fastapi import FastAPI
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haechi.api.deps import Caller, in_lane, lane_of
from haechi.api.routers.collections import collect_now
from haechi.api.routers.subjects import read_items_now
from haechi.api.schemas import CollectionCreate

__all__ = ["HotRoutes"]

# The route's own path constraint (deps.IdPath): 1–36 of [0-9A-Za-z-].
_ITEMS = re.compile(r"/api/v1/subjects/([0-9A-Za-z-]{1,36})/items")
# One parameter, purpose, in the characters a purpose id (or hold:<id>) is made of;
# anything else (escapes included) is left to FastAPI's query parsing.
_PURPOSE = re.compile(rb"purpose=([0-9A-Za-z_:.-]{1,63})")
_COLLECTIONS = "/api/v1/collections"

# An HTTP exception handler as Starlette keeps them (sync or async).
_Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


class HotRoutes:
    """Serve the plain form of the audited read and of a collection; pass the rest on."""

    def __init__(self, app: ASGIApp, *, application: FastAPI) -> None:
        self.app = app
        self.application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a plain read or collection here; hand anything else on unchanged."""
        # Under a root path (a mount, uvicorn --root-path) FastAPI routes on the rest of
        # the path: such a deployment is left to it.
        if scope["type"] == "http" and not scope.get("root_path"):
            method, path = scope["method"], scope["path"]
            if method == "GET":
                found = _ITEMS.fullmatch(path)
                query = _PURPOSE.fullmatch(scope.get("query_string", b""))
                if found and query and (reader := _caller(scope)) is not None:
                    subject_id, purpose = found.group(1), query.group(1).decode()
                    await self._answer(
                        scope,
                        receive,
                        send,
                        lambda engine: read_items_now(
                            engine, reader, subject_id=subject_id, purpose=purpose
                        ),
                        status=200,
                    )
                    return
            elif method == "POST" and path == _COLLECTIONS and _is_json(scope):
                caller = _caller(scope)
                if caller is not None:
                    await self._collect(scope, receive, send, caller)
                    return
        await self.app(scope, receive, send)

    async def _collect(self, scope: Scope, receive: Receive, send: Send, caller: Caller) -> None:
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        # A client gone before the end of its body is FastAPI's to refuse (400).
        whole = messages[-1]["type"] == "http.request"
        body = _parsed(b"".join(m.get("body", b"") for m in messages)) if whole else None
        if body is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        await self._answer(
            scope,
            receive,
            send,
            lambda engine: collect_now(engine, caller, body),
            status=201,
            lane=True,
        )

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        work: Callable[[Any], BaseModel],
        *,
        status: int,
        lane: bool = False,
    ) -> None:
        state = self.application.state
        engine = state.engine
        try:
            # In the pool FastAPI runs sync work in (its limiter: server.threads); a
            # collection once the collections' lane has room, as its FastAPI route does.
            if lane:
                model = await in_lane(lane_of(state), lambda: work(engine))
            else:
                model = await to_thread.run_sync(lambda: work(engine))
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise  # to the server-error middleware, as from a route
            answer = handler(Request(scope, receive), exc)
            response = await answer if isawaitable(answer) else answer
            await response(scope, receive, send)
            return
        payload = model.__pydantic_serializer__.to_json(model)
        headers = [
            (b"content-length", str(len(payload)).encode()),
            (b"content-type", b"application/json"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _handler_for(self, exc: Exception) -> _Handler | None:
        """The application's handler for ``exc``, as the exception middleware finds it.

        ``Exception``'s handler is the server-error middleware's: the error propagates.
        """
        handlers = self.application.exception_handlers
        for kind in type(exc).__mro__:
            if kind is Exception:
                return None
            handler = handlers.get(kind)
            if handler is not None:
                return cast(_Handler, handler)
        return None


def _caller(scope: Scope) -> Caller | None:
    """The request's bearer secret and address; None when there is no bearer secret.

    As ``HTTPBearer`` reads the header (with FastAPI's own parser). Without a bearer
    secret FastAPI refuses the request itself.
    """
    value = Headers(scope=scope).get("authorization")
    scheme, credentials = get_authorization_scheme_param(value)
    if not (value and scheme and credentials) or scheme.lower() != "bearer":
        return None
    client = scope.get("client")
    return Caller(credentials, client[0] if client else None)


def _is_json(scope: Scope) -> bool:
    content_type = Headers(scope=scope).get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _parsed(raw: bytes) -> CollectionCreate | None:
    """The body as the route's model, validated as FastAPI does; None if it refuses it."""
    try:
        return CollectionCreate.model_validate(json.loads(raw))
    except Exception:  # undecodable, not JSON, nested too deep, or refused: FastAPI says
        return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives ``messages`` again, then reads on from ``receive``."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
