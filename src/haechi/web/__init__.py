"""Documents Haechi publishes, rendered from the policy file with Jinja2 and Babel catalogues."""

from __future__ import annotations

from haechi.web.i18n import FORMATS, LANGUAGES, check_choice
from haechi.web.policy_document import TechnicalMeasures, render_policy, technical_measures
from haechi.web.rights_export import export_renderer, render_export

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "TechnicalMeasures",
    "check_choice",
    "export_renderer",
    "render_export",
    "render_policy",
    "technical_measures",
]
