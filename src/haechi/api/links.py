"""OpenAPI links: from the operation that creates something to those that act on it.

A client (or a fuzzer) reading the document learns that the ``collection_id`` of a
``POST /collections`` answer is the path parameter of ``GET /collections/{collection_id}``,
and so on. The links are one table here, added to the document FastAPI generates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

__all__ = ["LINKS", "install_links"]

_Target = tuple[str, str, Mapping[str, str]]

_COLLECTION = {"collection_id": "$response.body#/collection_id"}
_SUBJECT = {"subject_id": "$response.body#/subject_id"}
_REQUEST = {"request_id": "$response.body#/id"}
_PUBLIC_REQUEST = {
    "request_id": "$response.body#/request_id",
    "header.X-Status-Token": "$response.body#/status_token",
}
_COMPLAINT = {"complaint_id": "$response.body#/complaint_id"}
_USERNAME = {"username": "$response.body#/username"}


def _family(
    base: str, parameters: Mapping[str, str], *steps: tuple[str, str, str]
) -> dict[str, _Target]:
    """Links to the operations under ``base``: (name, method, path after ``base``)."""
    return {name: (method, base + tail, parameters) for name, method, tail in steps}


# (method, path, status) of the source → link name → (method, path, parameters) of the target.
LINKS: dict[tuple[str, str, str], dict[str, _Target]] = {
    ("post", "/api/v1/collections", "201"): {
        "ReadCollection": ("get", "/api/v1/collections/{collection_id}", _COLLECTION),
        "ReadItems": (
            "get",
            "/api/v1/subjects/{subject_id}/items",
            {**_SUBJECT, "query.purpose": "$request.body#/purpose"},
        ),
        "Withdraw": ("post", "/api/v1/collections/{collection_id}/withdraw", _COLLECTION),
        "Accomplished": ("post", "/api/v1/collections/{collection_id}/accomplished", _COLLECTION),
        "RenewConsent": ("post", "/api/v1/collections/{collection_id}/consent", _COLLECTION),
    },
    ("post", "/api/v1/subjects/lookup", "200"): {
        "ReadItems": ("get", "/api/v1/subjects/{subject_id}/items", _SUBJECT),
    },
    ("post", "/api/v1/requests", "201"): _family(
        "/api/v1/requests/{request_id}",
        _REQUEST,
        ("ReadRequest", "get", ""),
        ("VerifyRequest", "post", "/verify"),
        ("StartRequest", "post", "/start"),
        ("CompleteRequest", "post", "/complete"),
        ("RefuseRequest", "post", "/refuse"),
        ("PostponeRequest", "post", "/postpone"),
        ("LiftSuspension", "post", "/lift"),
    ),
    ("post", "/api/v1/public/requests", "202"): {
        "ReadStatus": ("get", "/api/v1/public/requests/{request_id}", _PUBLIC_REQUEST),
        "VerifyCode": ("post", "/api/v1/public/requests/{request_id}/verify", _PUBLIC_REQUEST),
        "NewCode": ("post", "/api/v1/public/requests/{request_id}/code", _PUBLIC_REQUEST),
    },
    ("post", "/api/v1/public/complaints", "202"): {
        "FollowComplaint": (
            "get",
            "/api/v1/public/complaints/{complaint_id}",
            {**_COMPLAINT, "header.X-Status-Token": "$response.body#/status_token"},
        ),
        **_family(
            "/api/v1/complaints/{complaint_id}",
            _COMPLAINT,
            ("ReadComplaint", "get", ""),
            ("AssignComplaint", "post", "/assign"),
            ("ReplyComplaint", "post", "/messages"),
            ("VerifyContact", "post", "/verify-contact"),
            ("CloseComplaint", "post", "/close"),
            ("DeliverResult", "post", "/deliver"),
        ),
    },
    ("post", "/api/v1/staff", "201"): _family(
        "/api/v1/staff/{username}",
        _USERNAME,
        ("Grant", "post", "/grants"),
        ("Revoke", "post", "/revoke"),
        ("ChangeRole", "put", "/role"),
        ("Unlock", "post", "/unlock"),
        ("ResetPassword", "post", "/password-reset"),
    ),
}


def _reference(method: str, path: str) -> str:
    # A JSON pointer into the document: "/" in a key is written "~1".
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def add_links(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with :data:`LINKS` written into its responses (in place)."""
    paths = document["paths"]
    for (method, path, status), targets in LINKS.items():
        response = paths[path][method]["responses"][status]
        response["links"] = {
            name: {
                "operationRef": _reference(target_method, target_path),
                "parameters": dict(parameters),
            }
            for name, (target_method, target_path, parameters) in targets.items()
        }
    return document


def install_links(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document carry :data:`LINKS`."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
