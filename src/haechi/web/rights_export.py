"""The answer to an access request as a page a person reads, in Korean or English."""

from __future__ import annotations

from collections.abc import Callable

from haechi.policy.schema import Policy
from haechi.rights.models import SubjectExport
from haechi.web.i18n import LANGUAGES, check_choice, environment

__all__ = ["export_renderer", "render_export"]


def render_export(policy: Policy, export: SubjectExport, *, lang: str) -> str:
    """``export`` as an HTML page in ``lang``, with the policy's names for purposes and items."""
    check_choice(lang, LANGUAGES, "lang")
    template = environment(lang, "html").get_template("rights/export.html.j2")
    return template.render(
        data=export.data,
        controller=policy.controller.name.get(lang),
        purposes={name: purpose.label.get(lang) for name, purpose in policy.purposes.items()},
        items={name: item.label.get(lang) for name, item in policy.items.items()},
    )


def export_renderer(current: Callable[[], Policy]) -> Callable[[SubjectExport, str], str]:
    """A renderer for :mod:`haechi.mail.requests`: (export, lang) → HTML.

    ``current`` gives the policy in force at the time of each answer (a new version
    may take effect while the server runs).
    """

    def render(export: SubjectExport, lang: str) -> str:
        return render_export(current(), export, lang=lang)

    return render
