"""The public privacy pages: the policy in force, its history, each version as published.

No login. Each page is a whole HTML document with one h1 and no outside assets; a
version is served exactly as it was published (its stored document), with a page
header added: the language switch, the history link and, during a notice period, a
banner naming the upcoming version and its effective date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import HTMLResponse

from haechi.engine import Engine, PublishedVersion
from haechi.policy.versions import EFFECTIVE_ZONE
from haechi.web.i18n import LANGUAGES, environment
from haechi.web.pages import html_response
from haechi.web.policy_document import render_policy

__all__ = ["MAX_VERSION", "preferred_language", "router"]

router = APIRouter(include_in_schema=False)

#: the highest version number a path may name (anything above is refused unread)
MAX_VERSION = 1_000_000
_LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}
# Only so much of the header is read: it is the client's text.
_MAX_ACCEPT = 200

Lang = Annotated[Literal["ko", "en"] | None, Query(description="ko or en")]
AcceptLanguage = Annotated[str | None, Header(alias="accept-language")]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION)]


def preferred_language(header: str | None) -> str:
    """The one of ko and en the Accept-Language header weighs highest (ko without one).

    Only the header's first characters and tags are read: it is the client's text.
    """
    best: tuple[float, int, str] = (0.0, 0, "ko")
    for position, part in enumerate((header or "")[:_MAX_ACCEPT].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        weight = params.strip().removeprefix("q=") if "q=" in params else "1"
        try:
            q = float(weight)
        except ValueError:
            continue
        # Equal weights: the earlier tag wins.
        best = max(best, (q, -position, primary))
    return best[2]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _when(version: PublishedVersion, lang: str) -> str:
    moment = version.effective_at.astimezone(EFFECTIVE_ZONE)
    return moment.strftime("%Y-%m-%d %H:%M") + (" (KST)" if lang == "en" else " (한국 시간)")


@dataclass(frozen=True)
class _Upcoming:
    n: int
    effective: str
    href: str


def _chrome(engine: Engine, *, lang: str, path: str) -> dict[str, object]:
    other = "en" if lang == "ko" else "ko"
    _, upcoming = engine.policy_status()
    announced = upcoming[0] if upcoming else None
    return {
        "switch_href": f"{path}?lang={other}",
        "other_lang": other,
        "other_label": _LANGUAGE_NAMES[other],
        "versions_href": f"/privacy/versions?lang={lang}",
        "upcoming": _Upcoming(
            announced.n,
            _when(announced, lang),
            f"/privacy/versions/{announced.n}?lang={lang}",
        )
        if announced
        else None,
    }


def _page(html: str) -> HTMLResponse:
    # The policy is public and changes rarely: caches may keep it, but ask each time.
    return html_response(html, headers={"Cache-Control": "no-cache"})


def _with_chrome(document: str, chrome: str) -> str:
    # The stored document is ours (policy/document.html.j2): one <body> tag, no attributes.
    return document.replace("<body>\n", "<body>\n" + chrome, 1)


def _document(engine: Engine, *, n: int | None, lang: str, path: str) -> str:
    env = environment(lang, "html")
    chrome = env.get_template("public/_chrome.html.j2").render(
        **_chrome(engine, lang=lang, path=path)
    )
    if n is None:
        in_force, _ = engine.policy_status()
        if in_force is None:
            # Nothing published yet: the file the engine enforces, rendered now.
            live = render_policy(engine.policy.policy, engine.settings, lang=lang, fmt="html")
            return _with_chrome(live, chrome)
        n = in_force.n
    _, _, documents = engine.published_version(n)
    return _with_chrome(documents[lang], chrome)


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request, lang: Lang = None, accept: AcceptLanguage = None) -> HTMLResponse:
    """The privacy policy in force."""
    chosen = lang or preferred_language(accept)
    return _page(_document(_engine(request), n=None, lang=chosen, path="/privacy"))


@router.get("/privacy/versions", response_class=HTMLResponse)
def history(request: Request, lang: Lang = None, accept: AcceptLanguage = None) -> HTMLResponse:
    """Every published version, with its announcement and effective dates."""
    chosen = lang or preferred_language(accept)
    engine = _engine(request)
    in_force, _ = engine.policy_status()
    env = environment(chosen, "html")
    rows = []
    for version in engine.published_versions():
        if in_force is not None and version.n == in_force.n:
            state = "in force"
        elif in_force is None or version.n > in_force.n:
            state = "upcoming"
        else:
            state = "superseded"
        rows.append(
            {
                "n": version.n,
                "label": version.label,
                "announced": version.announced_at.astimezone(EFFECTIVE_ZONE).strftime("%Y-%m-%d"),
                "effective": _when(version, chosen),
                "state": state,
                "href": f"/privacy/versions/{version.n}?lang={chosen}",
            }
        )
    html = env.get_template("public/versions.html.j2").render(
        versions=rows, **_chrome(engine, lang=chosen, path="/privacy/versions")
    )
    return _page(html)


@router.get("/privacy/versions/{n}", response_class=HTMLResponse)
def version(
    request: Request, n: VersionNumber, lang: Lang = None, accept: AcceptLanguage = None
) -> HTMLResponse:
    """Version ``n`` as published (404 when there is none)."""
    chosen = lang or preferred_language(accept)
    engine = _engine(request)
    return _page(_document(engine, n=n, lang=chosen, path=f"/privacy/versions/{n}"))
