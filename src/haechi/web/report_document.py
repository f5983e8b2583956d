"""The quarterly in-house audit as a printable HTML page, in Korean or English.

Charts are SVG drawn by pygal and placed inline: no script, no stylesheet or font
fetched from elsewhere.
Titles of the charts come from the template, so they are translated with its text.
"""

from __future__ import annotations

import re
from typing import Any

import pygal  # type: ignore[import-untyped]
from markupsafe import Markup
from pygal.style import Style  # type: ignore[import-untyped]

from haechi.policy.schema import Policy
from haechi.reports import QuarterlyFigures
from haechi.web.i18n import LANGUAGES, check_choice, environment

__all__ = ["bar_chart", "pie_chart", "render_report"]

# pygal adds its web site in comments and a script of its configuration (for its
# interactive JavaScript, which a printed report does not load): both are removed.
_DROPPED = re.compile(r"<!--.*?-->|<script\b.*?</script>", re.DOTALL)
_STYLE = Style(
    background="white",
    plot_background="white",
    font_family='system-ui, "Noto Sans KR", "Apple SD Gothic Neo", sans-serif',
    colors=("#1f4e79", "#c0504d", "#9bbb59", "#8064a2", "#f79646"),
)
_OPTIONS: dict[str, Any] = {
    "js": [],
    "disable_xml_declaration": True,
    "style": _STYLE,
    "width": 640,
    "height": 320,
    "print_values": True,
    "legend_at_bottom": True,
}


def _inline(chart: Any) -> Markup:
    svg = _DROPPED.sub("", chart.render(is_unicode=True))
    return Markup(svg)  # noqa: S704 - pygal escapes every label and value it draws


def bar_chart(title: str, values: dict[str, int]) -> Markup:
    """A bar chart of ``values`` (label → count), as inline SVG."""
    chart = pygal.Bar(title=title, show_legend=False, **_OPTIONS)
    chart.x_labels = list(values)
    chart.add(title, list(values.values()))
    return _inline(chart)


def pie_chart(title: str, values: dict[str, int]) -> Markup:
    """A pie chart of ``values`` (label → count), as inline SVG."""
    chart = pygal.Pie(title=title, **_OPTIONS)
    for label, value in values.items():
        chart.add(label, value)
    return _inline(chart)


def render_report(policy: Policy, figures: QuarterlyFigures, *, lang: str) -> str:
    """``figures`` as one HTML page in ``lang``, with the policy's names for purposes."""
    check_choice(lang, LANGUAGES, "lang")
    template = environment(lang, "html").get_template("report/quarterly.html.j2")
    return template.render(
        r=figures.to_json(),
        controller=policy.controller.name.get(lang),
        purposes={name: purpose.label.get(lang) for name, purpose in policy.purposes.items()},
        bar_chart=bar_chart,
        pie_chart=pie_chart,
    )
