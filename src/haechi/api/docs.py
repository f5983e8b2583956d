"""The interactive API documentation at ``/docs``, from a packaged copy of Swagger UI.

The page references this server only (``/static/swagger/…``): it works offline and
asks no other host for scripts, styles or a validator badge.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from haechi.api.links import install_links

__all__ = ["SWAGGER_UI_VERSION", "install_docs"]

SWAGGER_UI_VERSION = "5.35.0"
_ASSETS = "/static/swagger"


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets (made with ``docs_url=None``), and declare the links."""
    install_links(app)
    directory = files("haechi.api") / "static" / "swagger"
    app.mount(_ASSETS, StaticFiles(directory=str(directory)), name="swagger")

    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} — API",
            swagger_js_url=f"{root}{_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{_ASSETS}/favicon-32x32.png",
            # No validator badge: it would be an image from another host.
            swagger_ui_parameters={"validatorUrl": None},
        )

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
