"""The console's first page: requests and their deadlines, alerts, retention, the log's head.

The charts are pygal SVG inline (no script): requests received per week, accesses per
purpose over 30 days, and live collections by the month their retention ends.
"""

from __future__ import annotations

import html
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from haechi.web.console import rules
from haechi.web.console.pages import ConsoleRoute, page
from haechi.web.console.session import Guard, Viewer, engine_of
from haechi.web.report_document import bar_chart

__all__ = ["router"]

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

Staff = Annotated[Viewer, Depends(Guard("console_dashboard", rules.ALL_STAFF))]
# pygal hides its (script-driven) tooltips with style attributes, which the page's CSP
# refuses; the stylesheet hides them instead.
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="[^"]*"')
_STYLE_ELEMENT = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.DOTALL)


def _decoded(match: re.Match[str]) -> str:
    # Inside inline SVG the browser decodes character references in <style> before it
    # hashes the text for the CSP; decoded here, the hash of the page is the browser's.
    return match.group(1) + html.unescape(match.group(2)) + match.group(3)


def chart(title: str, values: dict[str, int]) -> Markup:
    """A bar chart of ``values`` as inline SVG, fit for the page's CSP."""
    svg = _STYLE_ATTRIBUTE.sub("", str(bar_chart(title, values)))
    return Markup(_STYLE_ELEMENT.sub(_decoded, svg))  # noqa: S704 - pygal escapes its labels


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, viewer: Staff) -> HTMLResponse:
    """Requests by state with countdowns, overdue work, alerts, retention, the last head."""
    board = engine_of(request).dashboard(actor=viewer.staff)
    charts = {}
    if board.requests_per_week is not None:
        charts["weeks"] = board.requests_per_week
    if board.accesses_per_purpose is not None:
        charts["purposes"] = board.accesses_per_purpose
    if board.retention_timeline is not None:
        charts["timeline"] = board.retention_timeline
    return page(request, viewer, "dashboard.html.j2", board=board, charts=charts, chart=chart)
