"""One table from Haechi's errors to HTTP statuses, and the JSON error body.

Every error body is ``{"error": message, "code": CODE, "detail": …, "field": …}``.
Request bodies are never echoed back: a validation error names the field, not the value.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from haechi.errors import (
    AccessDenied,
    ConfigurationError,
    Conflict,
    HaechiError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PolicyViolation,
)

__all__ = ["STATUS_OF", "error_body", "install_error_handlers", "status_of"]

# Most specific first: the first matching base decides the status.
STATUS_OF: list[tuple[type[HaechiError], int]] = [
    (AccessDenied, 403),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PolicyViolation, 422),
    (InvalidInput, 422),
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


def status_of(error: HaechiError) -> int:
    """The HTTP status of ``error``."""
    if error.code in _UNAUTHENTICATED:
        return 401
    for base, status in STATUS_OF:
        if isinstance(error, base):
            return status
    return 400


def error_body(
    message: str, code: str, *, field: str | None = None, detail: Any = None
) -> dict[str, Any]:
    """The JSON body of every error response."""
    body: dict[str, Any] = {"error": message, "code": code, "detail": detail}
    if field is not None:
        body["field"] = field
    return body


def _field_of(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(location[0] if location else "body")


async def _haechi_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HaechiError)
    status = status_of(exc)
    detail = {"audit_event_id": exc.audit_event_id} if isinstance(exc, AccessDenied) else None
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        error_body(exc.message, exc.code, field=exc.field, detail=detail),
        status_code=status,
        headers=headers,
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse(
            error_body("the request body is not valid JSON", "MALFORMED_JSON", field="body"),
            status_code=400,
        )
    problems = [
        {"field": _field_of(tuple(error.get("loc", ()))), "message": str(error.get("msg", ""))}
        for error in errors
    ]
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    return JSONResponse(
        error_body(
            f"{first['field']}: {first['message']}",
            "INVALID_INPUT",
            field=first["field"],
            detail=problems,
        ),
        status_code=422,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse(
        error_body(str(exc.detail), code), status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
    # Never a traceback to the client; the server log has the exception type only.
    return JSONResponse(error_body("internal error", "INTERNAL"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error Haechi can raise to a JSON response."""
    app.add_exception_handler(HaechiError, _haechi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
