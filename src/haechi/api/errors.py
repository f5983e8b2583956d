"""One table from Haechi's errors to HTTP statuses, and the JSON error body.

Every error body is ``{"error": message, "code": CODE, "detail": …, "field": …,
"problems": [{"field", "code", "message"}, …], "problem_count": n}``: ``field`` and
``code`` are those of the first problem; at most :data:`MAX_PROBLEMS` are listed.
Request bodies are never echoed back: a problem names the field, not the value, and a
name the client chose (an undeclared item, an unknown key) is named ``<undeclared>``.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Collection, Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from haechi.errors import (
    AccessDenied,
    ConfigurationError,
    Conflict,
    HaechiError,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyViolation,
    Problem,
)
from haechi.rights.codes import RateLimited
from haechi.storage.space import out_of_space

__all__ = [
    "MAX_PROBLEMS",
    "RETRY_AFTER_SECONDS",
    "STATUS_OF",
    "UNDECLARED",
    "error_body",
    "install_error_handlers",
    "status_of",
]

MAX_PROBLEMS = 10
#: what a 429 asks the client to wait: the caps count within an hour
RETRY_AFTER_SECONDS = "3600"
UNDECLARED = "<undeclared>"

# Most specific first: the first matching base decides the status.
STATUS_OF: list[tuple[type[HaechiError], int]] = [
    (RateLimited, 429),
    (AccessDenied, 403),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PolicyViolation, 422),
    (InvalidInput, 422),
    (IntegrityFailure, 500),
    (ConfigurationError, 503),
]

# No or failed credentials: 401 (a locked account is 403, retrying will not help).
_UNAUTHENTICATED = {
    "UNAUTHENTICATED",
    "INVALID_TOKEN",
    "SESSION_EXPIRED",
    "BAD_PASSWORD",
    "TOTP_REQUIRED",
    "BAD_TOTP",
    "TOTP_NOT_ENROLLED",
}

_log = logging.getLogger("haechi.api")


def status_of(error: HaechiError) -> int:
    """The HTTP status of ``error``."""
    if error.code in _UNAUTHENTICATED:
        return 401
    for base, status in STATUS_OF:
        if isinstance(error, base):
            return status
    return 400


def error_body(
    message: str,
    code: str,
    *,
    field: str | None = None,
    detail: Any = None,
    problems: Iterable[Problem] = (),
) -> dict[str, Any]:
    """The JSON body of every error response (at most :data:`MAX_PROBLEMS` problems)."""
    body: dict[str, Any] = {"error": message, "code": code, "detail": detail}
    if field is not None:
        body["field"] = field
    listed = list(problems)
    if not listed and field is not None:
        listed = [Problem(field=field, code=code, message=message)]
    body["problems"] = [
        {"field": problem.field, "code": problem.code, "message": problem.message}
        for problem in listed[:MAX_PROBLEMS]
    ]
    body["problem_count"] = len(listed)
    return body


def declared_items(request: Request) -> frozenset[str]:
    """The item names the policy declares: the only item names an error may echo."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        return frozenset()
    return frozenset(engine.policy.policy.items)


# Fields that map names the client chose to values: the policy's items (a declared
# item name may be echoed), and a representative's details (no name is echoed).
_KEYED_BY_ITEM = frozenset({"items", "corrections"})
_KEYED_BY_CLIENT = frozenset({"representative"})


def safe_field(field: str, items: Collection[str]) -> str:
    """``field`` with any client-chosen key replaced by ``<undeclared>``."""
    head, _, rest = field.partition(".")
    if head not in _KEYED_BY_ITEM | _KEYED_BY_CLIENT or not rest:
        return field
    name, dot, tail = rest.partition(".")
    known = head in _KEYED_BY_ITEM and name in items
    return f"{head}.{name if known else UNDECLARED}{dot}{tail}"


_UNDECLARED_MESSAGE = "an item the policy does not declare (its name is not repeated)"


def _safe_problem(fault: Problem, items: Collection[str]) -> Problem:
    field = safe_field(fault.field, items)
    if field == fault.field:
        return fault
    return Problem(field=field, code=fault.code, message=_UNDECLARED_MESSAGE)


def _field_of(error: dict[str, Any], items: Collection[str]) -> str:
    location = tuple(error.get("loc", ()))
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    if "[key]" in parts:
        # A refused key of a mapping is the client's text: never echoed.
        at = parts.index("[key]")
        parts[at - 1 : at + 1] = [UNDECLARED] if at else []
    if parts and error.get("type") == "extra_forbidden":
        # An unknown key is the client's text: never echoed.
        parts[-1] = UNDECLARED
    field = ".".join(parts) or str(location[0] if location else "body")
    return safe_field(field, items)


async def _haechi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HaechiError)
    status = status_of(exc)
    if isinstance(exc, IntegrityFailure):
        # The type only: the server log never holds a value either.
        _log.error("integrity failure: %s", exc.code)
    detail = {"audit_event_id": exc.audit_event_id} if isinstance(exc, AccessDenied) else None
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:
        # The caps count within a sliding hour: by then the oldest counted call has left it.
        headers = {"Retry-After": RETRY_AFTER_SECONDS}
    items = declared_items(request)
    problems = [_safe_problem(fault, items) for fault in exc.faults]
    field = safe_field(exc.field, items) if exc.field is not None else None
    message = exc.message
    if field != exc.field or tuple(problems) != exc.faults:
        # The message may quote the undeclared name: say what is wrong without it.
        message = _UNDECLARED_MESSAGE
    return JSONResponse(
        error_body(message, exc.code, field=field, detail=detail, problems=problems),
        status_code=status,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse(
            error_body("the request body is not valid JSON", "MALFORMED_JSON", field="body"),
            status_code=400,
        )
    items = declared_items(request)
    problems = [
        Problem(
            field=_field_of(error, items),
            code=str(error.get("type", "invalid")).upper(),
            message=str(error.get("msg", "")),
        )
        for error in errors
    ] or [Problem(field="body", code="INVALID", message="invalid request")]
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    listed = [
        {"field": problem.field, "message": problem.message} for problem in problems[:MAX_PROBLEMS]
    ]
    return JSONResponse(
        error_body(
            f"{first.field}: {first.message}{more}",
            "INVALID_INPUT",
            field=first.field,
            detail=listed,
            problems=problems,
        ),
        status_code=422,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's own refusal of a body it cannot decode (invalid UTF-8): one shape for
        # every undecodable body.
        return JSONResponse(
            error_body("the request body is not valid JSON", "MALFORMED_JSON", field="body"),
            status_code=400,
        )
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse(
        error_body(str(exc.detail), code), status_code=exc.status_code, headers=exc.headers
    )


_STORAGE_FULL_MESSAGE = "the database has no space left; nothing was stored"


def _storage_full() -> JSONResponse:
    return JSONResponse(error_body(_STORAGE_FULL_MESSAGE, "STORAGE_FULL"), status_code=507)


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """The database is down, unreachable, locked past its timeout, or out of space.

    Nothing of the request was committed (its transaction rolled back): the client may
    send it again. The driver's text may quote values: the log has its class only.
    """
    name = type(getattr(exc, "orig", None) or exc).__name__
    if out_of_space(exc):
        _log.error("database has no space left: %s", name)
        return _storage_full()
    _log.error("database unavailable: %s", name)
    return JSONResponse(
        error_body("the database is unavailable; nothing was stored", "DATABASE_UNAVAILABLE"),
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """Any other driver error: 507 if it says the storage is full, else an internal error.

    PostgreSQL reports a quota or a file size limit met while extending a table as an
    internal error (XX000), not as ``disk_full``; ``out_of_space`` tells them apart.
    """
    if out_of_space(exc):
        _log.error("database has no space left: %s", type(getattr(exc, "orig", None)).__name__)
        return _storage_full()
    return await _unexpected(request, exc)


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    """A file Haechi writes itself (an epoch key…) found no space: 507, as for the database.

    Any other failure of the operating system is an internal error. The request's
    transaction rolled back.
    """
    assert isinstance(exc, OSError)
    if out_of_space(exc):
        _log.error("no space left for a file: %s", errno.errorcode.get(exc.errno or 0, "?"))
        return _storage_full()
    return await _unexpected(request, exc)


async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
    # Never a traceback to the client; the server log has the exception type only.
    return JSONResponse(error_body("internal error", "INTERNAL"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error Haechi can raise to a JSON response."""
    app.add_exception_handler(HaechiError, _haechi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in (OperationalError, DisconnectionError, PoolTimeout):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(Exception, _unexpected)
