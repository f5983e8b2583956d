"""Documents Haechi publishes, rendered from the policy file with Jinja2 and Babel catalogues."""

from __future__ import annotations

from haechi.web.i18n import FORMATS, LANGUAGES, check_choice
from haechi.web.policy_document import TechnicalMeasures, render_policy, technical_measures

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "TechnicalMeasures",
    "check_choice",
    "render_policy",
    "technical_measures",
]
