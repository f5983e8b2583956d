"""What every HTML page of the web surface shares: its security headers and static files.

Pages allow nothing but themselves (``default-src 'self'``): no inline script ever, and an
inline ``<style>`` only where a stored policy document carries one, by its hash. Static
files (the vendored htmx, the style sheet) are package data served under ``/static``;
their URLs carry a digest of their content, so they are cached for a year and a new
release is fetched at once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from haechi.web.static import STATIC_PREFIX, static_dir, static_url

__all__ = ["STATIC_PREFIX", "html_response", "mount_static", "static_dir", "static_url"]

# Attributes allowed: the inline SVG charts of pygal carry <style type="text/css">.
_STYLE = re.compile(r"<style(?:\s[^>]*)?>(.*?)</style>", re.DOTALL)
_YEAR = 365 * 24 * 3600


class _LongCached(StaticFiles):
    """Static files with a year of caching: their URLs change with their content."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = f"public, max-age={_YEAR}, immutable"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _favicon() -> Response:
    return Response(
        (static_dir() / "favicon.svg").read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def mount_static(app: FastAPI) -> None:
    """Serve the package's static files under :data:`STATIC_PREFIX`, and the site's icon."""
    app.mount(STATIC_PREFIX, _LongCached(directory=static_dir()), name="static")
    # Browsers ask for /favicon.ico whatever the page says.
    app.add_api_route("/favicon.ico", _favicon, methods=["GET"], include_in_schema=False)


#: What every HTML page is sent with besides its Content-Security-Policy: unframeable,
#: not sniffed, no referrer, never cached.
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def hash_sources(inline: list[str]) -> str:
    """The CSP sources (`` 'sha256-…'`` each) that allow exactly these inline texts."""
    return "".join(
        " 'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
        for text in inline
    )


def html_response(
    html: str, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """``html`` with headers that allow nothing but itself (its inline styles, by hash)."""
    policy = (
        f"default-src 'self'; style-src 'self'{hash_sources(_STYLE.findall(html))}; "
        "img-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={"Content-Security-Policy": policy, **PAGE_HEADERS, **(headers or {})},
    )
