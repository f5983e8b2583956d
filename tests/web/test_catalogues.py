"""The message catalogues: every template text is translated, and the shipped .mo match the .po."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from haechi.web.i18n import LANGUAGES, locale_dir

WEB = locale_dir().parent


def template_messages() -> set[str | tuple[str, str]]:
    method_map = [("**/templates/**.j2", "jinja2")]
    options = {
        "**/templates/**.j2": {
            "extensions": "jinja2.ext.i18n",
            "trim_blocks": "true",
            "lstrip_blocks": "true",
        }
    }
    found: set[str | tuple[str, str]] = set()
    for _, _, message, _, _ in extract_from_dir(str(WEB), method_map, options_map=options):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def frozen(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def messages_of(messages: object) -> dict[object, object]:
    return {
        frozen(message.id): frozen(message.string)
        for message in messages  # type: ignore[attr-defined]
        if message.id
    }


def catalogue(lang: str, suffix: str) -> dict[object, object]:
    path = locale_dir() / lang / "LC_MESSAGES" / f"messages.{suffix}"
    with path.open("rb") as handle:
        messages = read_mo(handle) if suffix == "mo" else read_po(handle, locale=lang)
    return messages_of(messages)


def test_every_template_text_is_in_both_catalogues_and_korean_is_translated() -> None:
    """It finds each text of the templates in ko and en, with a Korean translation."""
    expected = template_messages()
    assert expected
    for lang in LANGUAGES:
        assert set(catalogue(lang, "po")) == expected, lang
    untranslated = [
        key
        for key, value in catalogue("ko", "po").items()
        if not value or (isinstance(value, tuple) and "" in value)
    ]
    assert untranslated == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogues_match_their_sources(lang: str) -> None:
    """It ships .mo files compiled from the current .po (run `pybabel compile` after editing)."""
    source = locale_dir() / lang / "LC_MESSAGES" / "messages.po"
    with source.open("rb") as handle:
        compiled = BytesIO()
        write_mo(compiled, read_po(handle, locale=lang))
    compiled.seek(0)
    expected = messages_of(read_mo(compiled))
    assert catalogue(lang, "mo") == expected


def test_catalogues_are_package_data() -> None:
    """It keeps the templates and catalogues inside the package, so the wheel carries them."""
    package = Path(str(WEB))
    assert (package / "templates" / "policy" / "document.html.j2").is_file()
    for lang in LANGUAGES:
        assert (package / "locale" / lang / "LC_MESSAGES" / "messages.mo").is_file()
