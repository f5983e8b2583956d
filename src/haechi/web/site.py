"""The public web site: the policy pages, the privacy center and its static files."""

from __future__ import annotations

from fastapi import FastAPI

from haechi.web import (
    center,
    center_complaints,
    center_optout,
    center_representatives,
    center_requests,
    public,
)
from haechi.web.pages import mount_static

__all__ = ["install_public_site"]


def install_public_site(app: FastAPI) -> None:
    """Add the public pages and ``/static`` to ``app`` (after any other ``/static/…`` mount)."""
    # The representatives' page before /privacy/requests/{kind}, which would take its path.
    areas = (public, center, center_representatives, center_requests)
    for area in (*areas, center_complaints, center_optout):
        app.include_router(area.router)
    mount_static(app)
