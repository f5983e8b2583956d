"""The interactive API documentation at ``/docs``, from a packaged copy of Swagger UI.

The page references this server only (``/static/swagger/…``): it works offline and
asks no other host for scripts, styles or a validator badge.
"""

from __future__ import annotations

import re
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from haechi.api.links import install_links
from haechi.web.pages import PAGE_HEADERS, hash_sources

__all__ = ["SWAGGER_UI_VERSION", "install_docs"]

SWAGGER_UI_VERSION = "5.35.0"
_ASSETS = "/static/swagger"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _guarded(page: HTMLResponse) -> HTMLResponse:
    """The page with the headers every other page has: its own inline script, by hash.

    Swagger UI sets styles on its elements and draws icons from ``data:`` images; it
    may run no other script, be framed by no page, and is not kept in a cache.
    """
    hashes = hash_sources(_INLINE_SCRIPT.findall(bytes(page.body).decode("utf-8")))
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )
    page.headers.update(PAGE_HEADERS)
    return page


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets (made with ``docs_url=None``), and declare the links."""
    install_links(app)
    directory = files("haechi.api") / "static" / "swagger"
    app.mount(_ASSETS, StaticFiles(directory=str(directory)), name="swagger")

    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} — API",
            swagger_js_url=f"{root}{_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{_ASSETS}/favicon-32x32.png",
            # No validator badge: it would be an image from another host.
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _guarded(page)

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
