"""Template environments, one per language and format, with the Babel message catalogues.

Fixed text lives in the templates as English message ids; ``locale/<lang>/LC_MESSAGES/
messages.po`` translates it and the compiled ``messages.mo`` beside it is what runs (it
is committed, so an editable install needs no build step; a test keeps it in step with
the ``.po``). After changing a template's text::

    pybabel extract -F src/haechi/web/babel.cfg -o src/haechi/web/locale/messages.pot src/haechi/web
    pybabel update -i src/haechi/web/locale/messages.pot -d src/haechi/web/locale
    pybabel compile -d src/haechi/web/locale
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from pathlib import Path

from babel.support import Translations
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from haechi.errors import InvalidInput
from haechi.web.static import static_url

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "check_choice",
    "environment",
    "locale_dir",
    "markdown_escape",
]

LANGUAGES = ("ko", "en")
FORMATS = ("html", "md")
# Inline text only: what would start emphasis, code, a link, raw HTML or a table cell.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def locale_dir() -> Path:
    """Where the message catalogues are."""
    return Path(str(files("haechi.web").joinpath("locale")))


def markdown_escape(value: object) -> str:
    """``value`` as Markdown text: characters that would format it are escaped."""
    text = " ".join(str(value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _html_text(value: object) -> object:
    # HTML autoescaping already protects the value; this filter only matters for Markdown.
    return value


def _html_link(url: str) -> Markup:
    return Markup('<a href="{0}">{0}</a>').format(url)


def _markdown_link(url: str) -> str:
    # An autolink: its address needs no escaping, and a policy's addresses hold no spaces.
    return f"<{url}>"


def check_choice(value: str, choices: tuple[str, ...], field: str) -> str:
    """``value`` if it is one of ``choices``; raise InvalidInput naming ``field`` otherwise."""
    if value not in choices:
        raise InvalidInput(f"{field} must be one of {', '.join(choices)}", field=field)
    return value


@cache
def environment(language: str, fmt: str) -> Environment:
    """The template environment for ``language`` and ``fmt``, built once and then shared.

    Environments are only read while rendering, so one per language and format serves
    every thread.
    """
    check_choice(language, LANGUAGES, "lang")
    check_choice(fmt, FORMATS, "format")
    env = Environment(
        loader=PackageLoader("haechi.web", "templates"),
        # Markdown is not HTML: there, the |text filter escapes what would format.
        autoescape=fmt == "html",  # noqa: S701
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    translations = Translations.load(str(locale_dir()), [language], domain="messages")
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters["text"] = markdown_escape if fmt == "md" else _html_text
    env.filters["link"] = _markdown_link if fmt == "md" else _html_link
    env.globals["lang"] = language
    env.globals["static"] = static_url
    return env
