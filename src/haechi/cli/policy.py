"""``haechi policy render|publish|versions|diff|notify``: the published privacy policy."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from haechi.cli.common import DataOption, load_settings, opened
from haechi.cli.staff import ByOption, operator
from haechi.engine import Engine, PublishedVersion
from haechi.errors import ConfigurationError, InvalidInput, PolicyInvalid
from haechi.mail.policy_notice import mail_policy_notices
from haechi.policy import load_policy
from haechi.policy.versions import diff_policies, parse_effective, text_diff
from haechi.web import FORMATS, LANGUAGES, check_choice, render_policy

__all__ = ["diff", "notify", "publish", "render", "versions"]

LangOption = Annotated[str, typer.Option("--lang", help="Language: ko or en.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def render(
    lang: LangOption = "ko",
    fmt: Annotated[str, typer.Option("--format", help="html (a whole page) or md.")] = "html",
    version: Annotated[
        int | None,
        typer.Option(
            "--version",
            min=1,
            help="A published version: its document as published (md: rendered from its file).",
            show_default=False,
        ),
    ] = None,
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
    if version is None:
        policy = load_policy(settings.policy_path).policy
        text = render_policy(policy, settings, lang=lang, fmt=fmt)
    else:
        with opened(data) as engine:
            _, loaded, documents = engine.published_version(version)
        text = (
            documents[lang]
            if fmt == "html"
            else render_policy(loaded.policy, settings, lang=lang, fmt=fmt)
        )
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write {out}: {type(exc).__name__}") from None


def publish(
    file: Annotated[Path, typer.Argument(help="The policy file to publish.")],
    effective: Annotated[
        str | None,
        typer.Option(
            "--effective",
            help="When it takes effect: YYYY-MM-DD (midnight, Asia/Seoul) or an ISO-8601 "
            "time with an offset. At least the notice period ahead; the first version "
            "may omit it (in force at once).",
            show_default=False,
        ),
    ] = None,
    by: ByOption = None,
    data: DataOption = None,
) -> None:
    """Announce a new version of the policy; subjects asked for fresh consent are mailed."""
    effective_at = parse_effective(effective) if effective is not None else None
    try:
        loaded = load_policy(file)
    except PolicyInvalid as invalid:
        count = len(invalid.problems)
        raise InvalidInput(
            f"{file} fails `haechi policy check` ({count} problem(s)); run it to see them",
            field="file",
        ) from None
    settings = load_settings(data)
    documents = {
        lang: render_policy(loaded.policy, settings, lang=lang, fmt="html") for lang in LANGUAGES
    }
    with opened(data) as engine:
        version = engine.publish_policy(
            loaded, effective_at=effective_at, documents=documents, actor=operator(by)
        )
        typer.echo(
            f"published version {version.n} ({version.id}), "
            f"effective {version.effective_at.isoformat()}"
        )
        _notify(engine, version.n)


def _notify(engine: Engine, n: int) -> None:
    if not engine.settings.mail.smtp_host:
        pending = len({target.subject_id for target in engine.reconsent_targets(n)})
        if pending:
            typer.echo(
                f"mail is not configured: {pending} subject(s) to ask for consent were not "
                f"mailed; set mail.smtp_host and run `haechi policy notify {n}`",
                err=True,
            )
        return
    from haechi.mail import SmtpNotifier

    sent = mail_policy_notices(engine, SmtpNotifier(engine.settings.mail), n)
    typer.echo(f"notices: {sent.mailed} mailed, {sent.unreachable} without a usable address")


def notify(
    version: Annotated[int, typer.Argument(min=1, help="The published version number.")],
    data: DataOption = None,
) -> None:
    """Mail the subjects a version asks for fresh consent (again)."""
    with opened(data) as engine:
        engine.published_version(version)
        _notify(engine, version)


def _state(version: PublishedVersion, in_force: PublishedVersion | None) -> str:
    if in_force is not None and version.n == in_force.n:
        return "in force"
    if in_force is None or version.n > in_force.n:
        return "upcoming"
    return "superseded"


def versions(as_json: JsonOption = False, data: DataOption = None) -> None:
    """List the published versions with their announcement and effective dates."""
    with opened(data) as engine:
        in_force, _ = engine.policy_status()
        listed = engine.published_versions()
    rows = [{**v.as_dict(), "state": _state(v, in_force)} for v in listed]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        typer.echo(
            f"{row['n']:>3}  {row['id']}  announced {row['announced_at']}  "
            f"effective {row['effective_at']}  {row['state']}  {row['label']}"
        )


def diff(
    old: Annotated[int, typer.Argument(min=1, help="The earlier version number.")],
    new: Annotated[int, typer.Argument(min=1, help="The later version number.")],
    lang: LangOption = "ko",
    as_json: JsonOption = False,
    data: DataOption = None,
) -> None:
    """What changed between two versions, and a text diff of their documents."""
    check_choice(lang, LANGUAGES, "lang")
    with opened(data) as engine:
        _, before, old_documents = engine.published_version(old)
        _, after, new_documents = engine.published_version(new)
    changes = diff_policies(before.policy, after.policy)
    text = text_diff(
        old_documents[lang],
        new_documents[lang],
        old_name=f"version {old} ({lang})",
        new_name=f"version {new} ({lang})",
    )
    if as_json:
        document = {"from": old, "to": new, "changes": changes.as_dict(), "text_diff": text}
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    summary = changes.as_dict()
    typer.echo(f"version {old} → {new}")
    purposes = summary["purposes"]
    typer.echo(f"purposes added: {', '.join(purposes['added']) or '-'}")
    typer.echo(f"purposes removed: {', '.join(purposes['removed']) or '-'}")
    for change in purposes["changed"]:
        typer.echo(f"purpose {change['purpose']}: {json.dumps(change, ensure_ascii=False)}")
    items = summary["items"]
    typer.echo(f"items added: {', '.join(items['added']) or '-'}")
    typer.echo(f"items removed: {', '.join(items['removed']) or '-'}")
    typer.echo(f"asks fresh consent for: {', '.join(changes.reconsent_purposes) or '-'}")
    typer.echo(text, nl=False)
