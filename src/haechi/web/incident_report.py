"""The report of a breach to the regulator (PIPA Art. 34(3)) as one HTML page, Korean or English.

The fields are the form's: items, time, circumstances, measures, contact; every value
comes from :meth:`haechi.Engine.regulator_report`.
"""

from __future__ import annotations

from typing import Any

from haechi.web.i18n import LANGUAGES, check_choice, environment

__all__ = ["render_regulator_report"]


def render_regulator_report(fields: dict[str, Any], *, lang: str) -> str:
    """``fields`` as one printable page in ``lang``."""
    check_choice(lang, LANGUAGES, "lang")
    template = environment(lang, "html").get_template("incidents/regulator.html.j2")
    return template.render(r=fields, controller=fields["controller"][lang])
