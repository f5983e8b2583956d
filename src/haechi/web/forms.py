"""HTML forms: CSRF tokens, bounded parsing, and the errors shown next to each field.

CSRF (:class:`Csrf`): a form carries ``HMAC(key, scope | binding)``, the key derived
from the key provider (``derive("web-csrf-v1")``). For anonymous forms the binding is a
random value in the :data:`CSRF_COOKIE` cookie (a signed double submit: another site
can neither read the cookie nor compute the token for it); a staff page binds the token
to its session instead (``scope="session"``, the binding a digest of the session), so
one helper serves both.

Parsing (:func:`read_form`): the body is already bounded by the request limits
(``server.max_body_bytes``, 413 past it); on top, a form has at most
:data:`MAX_FIELDS` fields, a text part at most :data:`MAX_PART_BYTES`, and only forms
that expect files may carry them. :class:`Fields` reads each value with its own bound
and collects one :class:`~haechi.errors.Problem` per field at fault, so a page marks
every field at once; codes, never the value typed, say what is wrong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from ipaddress import ip_address

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from haechi.crypto.keys import KeyProvider
from haechi.errors import HaechiError, InvalidInput, PermissionDenied, Problem
from haechi.subjects.values import unsafe_text

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "MAX_FIELDS",
    "MAX_PART_BYTES",
    "Csrf",
    "CsrfRefused",
    "Fields",
    "Upload",
    "anonymous_binding",
    "field_errors",
    "read_form",
    "secure_cookies",
    "set_binding_cookie",
]

CSRF_COOKIE = "haechi_csrf"
CSRF_FIELD = "csrf_token"
MAX_FIELDS = 40
MAX_PART_BYTES = 16 * 1024
_BINDING = re.compile(r"^[A-Za-z0-9_-]{43}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfRefused(PermissionDenied):
    """A form came without the token of its page, or with another's."""

    code = "CSRF"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class Csrf:
    """Signs and checks form tokens bound to a cookie value or a session."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the CSRF key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_keys(cls, keys: KeyProvider) -> Csrf:
        """The signer with its key derived from the key provider."""
        return cls(keys.derive("web-csrf-v1"))

    def token(self, binding: str, *, scope: str = "anonymous") -> str:
        """The token a form bound to ``binding`` carries."""
        mac = hmac.new(self._key, f"{scope}\x00{binding}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def check(self, token: object, binding: str | None, *, scope: str = "anonymous") -> None:
        """Nothing if ``token`` is the one for ``binding``; raise :class:`CsrfRefused` otherwise."""
        if (
            binding is None
            or not isinstance(token, str)
            or not _TOKEN.fullmatch(token)
            or not hmac.compare_digest(token, self.token(binding, scope=scope))
        ):
            raise CsrfRefused(
                "the form is out of date or did not come from this site; send it again",
                field=CSRF_FIELD,
            )


def anonymous_binding(request: Request) -> tuple[str, bool]:
    """The browser's CSRF binding from its cookie, or a new one; whether it is new."""
    value = request.cookies.get(CSRF_COOKIE)
    if value is not None and _BINDING.fullmatch(value):
        return value, False
    return secrets.token_urlsafe(32), True


def secure_cookies(request: Request) -> bool:
    """Whether cookies must be Secure: always, except for a loopback client over HTTP."""
    if request.url.scheme == "https":
        return True
    host = request.client.host if request.client else None
    try:
        return host is None or not ip_address(host).is_loopback
    except ValueError:
        return True


def set_binding_cookie(response: Response, binding: str, *, secure: bool) -> None:
    """Give the browser its CSRF binding (HttpOnly: no script needs it)."""
    response.set_cookie(
        CSRF_COOKIE, binding, httponly=True, secure=secure, samesite="lax", path="/"
    )


async def read_form(
    request: Request, *, max_files: int = 0, max_fields: int = MAX_FIELDS
) -> FormData:
    """The request's form, parsed within bounds; InvalidInput (field ``body``) otherwise."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in _FORM_TYPES:
        raise InvalidInput("the body is not a form", field="body", code="FORM_EXPECTED")
    try:
        return await request.form(
            max_files=max_files, max_fields=max_fields, max_part_size=MAX_PART_BYTES
        )
    except HaechiError:
        raise
    except Exception:
        # Starlette's refusals (too many fields or files, a part too large, a broken
        # multipart body): one answer, naming the body, never its bytes.
        raise InvalidInput(
            "the form could not be read within its limits", field="body", code="MALFORMED_FORM"
        ) from None


@dataclass(frozen=True)
class Upload:
    """A file sent with a form, read whole (its size bounded first)."""

    media_type: str
    content: bytes


@dataclass
class Fields:
    """Reads a form's values, each with its bound, noting every field at fault."""

    form: FormData
    problems: list[Problem] = field(default_factory=list)

    def _fault(self, name: str, code: str, message: str) -> None:
        self.problems.append(Problem(field=name, code=code, message=message))

    def text(
        self,
        name: str,
        *,
        max_length: int,
        required: bool = True,
        multiline: bool = False,
        pattern: re.Pattern[str] | None = None,
    ) -> str:
        """The trimmed text of ``name``; empty when absent or at fault (noted, if required)."""
        values = self.form.getlist(name)
        first = values[0] if values else ""
        if len(values) > 1 or not isinstance(first, str):
            self._fault(name, "INVALID", f"{name} must be sent once, as text")
            return ""
        value = first.strip()
        if not value:
            if required:
                self._fault(name, "REQUIRED", f"{name} is required")
            return ""
        if len(value) > max_length:
            self._fault(name, "TOO_LONG", f"{name} is longer than {max_length} characters")
            return ""
        # The characters items refuse (controls, bidi overrides, lone surrogates).
        if unsafe_text(value) or (not multiline and ("\n" in value or "\r" in value)):
            self._fault(name, "INVALID", f"{name} holds characters it may not hold")
            return ""
        if pattern is not None and not pattern.fullmatch(value):
            self._fault(name, "INVALID", f"{name} is not in its expected form")
            return ""
        return value

    def choice(self, name: str, choices: Collection[str], *, required: bool = True) -> str:
        """The value of ``name`` if it is one of ``choices`` (empty otherwise)."""
        longest = max((len(choice) for choice in choices), default=1)
        value = self.text(name, max_length=longest + 1, required=required)
        if value and value not in choices:
            self._fault(name, "CHOICE", f"{name} is not one of the choices")
            return ""
        return value

    def choices(self, name: str, choices: Collection[str]) -> list[str]:
        """The values of a group of checkboxes named ``name``, each one of ``choices``."""
        values = self.form.getlist(name)
        if len(values) > len(choices) or any(
            not isinstance(value, str) or value not in choices for value in values
        ):
            self._fault(name, "CHOICE", f"{name} is not one of the choices")
            return []
        return sorted({value for value in values if isinstance(value, str)})

    def checked(self, name: str, *, required: bool = False) -> bool:
        """Whether checkbox ``name`` was ticked."""
        ticked = self.form.get(name) is not None
        if required and not ticked:
            self._fault(name, "REQUIRED", f"{name} must be ticked")
        return ticked

    async def file(
        self, name: str, *, max_bytes: int, media_types: Collection[str], required: bool = True
    ) -> Upload | None:
        """The file sent as ``name``: at most ``max_bytes``, of one of ``media_types``."""
        values = self.form.getlist(name)
        upload = values[0] if len(values) == 1 else None
        if not isinstance(upload, UploadFile) or not upload.filename:
            if values and not (isinstance(upload, UploadFile) or upload == ""):
                self._fault(name, "INVALID", f"{name} must be a file")
            elif required:
                self._fault(name, "REQUIRED", f"{name} is required")
            return None
        if (upload.size or 0) > max_bytes:
            self._fault(name, "FILE_TOO_LARGE", f"{name} is larger than {max_bytes} bytes")
            return None
        media_type = (upload.content_type or "").split(";")[0].strip().lower()
        if media_type not in media_types:
            self._fault(name, "FILE_TYPE", f"{name} is not of an accepted type")
            return None
        content = await upload.read(max_bytes + 1)
        if len(content) > max_bytes:
            self._fault(name, "FILE_TOO_LARGE", f"{name} is larger than {max_bytes} bytes")
            return None
        if not content:
            self._fault(name, "REQUIRED", f"{name} is empty")
            return None
        return Upload(media_type, content)

    def done(self) -> None:
        """Raise InvalidInput (CsrfRefused for a bad token) naming every field at fault."""
        if not self.problems:
            return
        first = self.problems[0]
        # A form that did not come from its page is refused as such (403), whatever else.
        refused = (
            CsrfRefused if any(p.code == CsrfRefused.code for p in self.problems) else InvalidInput
        )
        raise refused(first.message, field=first.field, problems=tuple(self.problems))


def field_errors(error: HaechiError) -> dict[str, str]:
    """Field name → code of each problem of ``error`` (the first problem of a field wins)."""
    found: dict[str, str] = {}
    for problem in error.faults or (Problem(field="form", code=error.code, message=""),):
        found.setdefault(problem.field, problem.code)
    return found
