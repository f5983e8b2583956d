"""``haechi policy render``: the published privacy policy, from the policy file and settings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from haechi.cli.common import DataOption, load_settings
from haechi.errors import ConfigurationError
from haechi.policy import load_policy
from haechi.web import FORMATS, LANGUAGES, check_choice, render_policy

__all__ = ["render"]


def render(
    lang: Annotated[str, typer.Option("--lang", help="Language: ko or en.")] = "ko",
    fmt: Annotated[str, typer.Option("--format", help="html (a whole page) or md.")] = "html",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write to this file (default: stdout).", show_default=False),
    ] = None,
    data: DataOption = None,
) -> None:
    """Render the privacy policy people read, from the same file the engine enforces."""
    # Checked first, so that a mistyped option is named before any file is read.
    check_choice(lang, LANGUAGES, "lang")
    check_choice(fmt, FORMATS, "format")
    settings = load_settings(data)
    policy = load_policy(settings.policy_path).policy
    text = render_policy(policy, settings, lang=lang, fmt=fmt)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write {out}: {type(exc).__name__}") from None
