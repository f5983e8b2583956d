"""The browser suite: a real ``haechi serve``, a real SMTP server, Debian's chromium.

* ``live``: one ``haechi serve`` for the session on a free port, over a data directory
  made by ``haechi init`` (SQLite: the layers below are tested on both databases),
  mailing through ``smtp``.
* ``smtp``: an aiosmtpd server that keeps every message it receives.
* ``page``: a fresh browser context and page of headless ``/usr/bin/chromium``, driven by
  Playwright; no browser is ever downloaded. Without chromium the suite skips locally
  and fails under CI.
* ``axe_check(page)``: runs the vendored axe-core on the page and fails on any serious or
  critical violation. ``screenshot(page, name)`` writes ``build/screenshots/<name>.png``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from haechi import Engine, Settings
from tests.serving import free_port, haechi, serving

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is needed under CI: the browser suite may not be skipped")
    pytest.skip(f"browser tests skipped: {CHROMIUM} is not installed (apt-get install chromium)")


@dataclass
class Mailbox:
    """What the SMTP server received, in order; safe to read while it receives."""

    messages: list[EmailMessage] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, to: str, needle: str, *, timeout: float = 30) -> EmailMessage:
        """The first message to ``to`` whose subject or text holds ``needle`` (waits for it)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for message in self.messages:
                    if message["To"] == to and needle in _readable(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    subjects = [str(m["Subject"]) for m in self.messages]
                    raise AssertionError(f"no mail to {to} with {needle!r}: {subjects}")
                self.arrived.wait(left)


def _readable(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    return f"{message['Subject']}\n{text}"


@dataclass
class Smtp:
    """The test SMTP server: where it listens and what it received."""

    host: str
    port: int
    mailbox: Mailbox


@pytest.fixture(scope="session")
def smtp() -> Iterator[Smtp]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Smtp("127.0.0.1", port, mailbox)
    finally:
        controller.stop()


@dataclass
class Live:
    """A running ``haechi serve``: its base URL and data directory."""

    url: str
    data_dir: Path
    output: list[str]

    def engine(self) -> Engine:
        """An engine on the server's database, as an operator's second process would open."""
        return Engine.open(Settings.load(self.data_dir))


def _mail_env(smtp: Smtp) -> dict[str, str]:
    return {
        "HAECHI__MAIL__SMTP_HOST": smtp.host,
        "HAECHI__MAIL__SMTP_PORT": str(smtp.port),
        "HAECHI__MAIL__SENDER": "privacy@demosoft.example",
    }


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, smtp: Smtp) -> Iterator[Live]:
    _need_chromium()
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    env = _mail_env(smtp)
    init = haechi("init", str(data_dir), **env)
    assert init.returncode == 0, init.stderr
    # No trusted network: a staff login in the browser needs its TOTP code, as from outside.
    with serving(data_dir, **env, HAECHI__AUTH__TRUSTED_NETWORKS="[]") as (url, output):
        yield Live(url, data_dir, output)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    """A fresh page (its own cookies) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live.url, locale="ko-KR")
    context.set_default_timeout(15_000)
    opened = context.new_page()
    problems: list[str] = []

    def console(message: Any) -> None:
        # A document answered 4xx on purpose is logged too: resources are checked below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def response(answer: Any) -> None:
        assets = ("script", "stylesheet", "image", "font")
        if answer.request.resource_type in assets and answer.status >= 400:
            problems.append(f"{answer.status} {answer.url}")

    opened.on("console", console)
    opened.on("response", response)
    try:
        yield opened
    finally:
        context.close()
    # A CSP refusal, a script error or a missing asset: no page may have one.
    assert problems == [], problems


def axe_check(page: Any) -> None:
    """Fail on any serious or critical axe-core violation of the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Through the DevTools protocol: the page's CSP does not apply to it.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})); }"
    )
    serious = [item for item in result if item["impact"] in ("serious", "critical")]
    assert serious == [], f"axe on {page.url}: {serious}"


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as ``build/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def tab_to(page: Any, selector: str, *, limit: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has the focus (fail after ``limit``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def type_into(page: Any, selector: str, text: str) -> None:
    """Reach ``selector`` by Tab and type ``text`` there, as a keyboard user does."""
    tab_to(page, selector)
    page.keyboard.type(text)


def state_by_keyboard(page: Any, id_field: str, found_id: str, status_token: str) -> str:
    """Type a receipt into the follow form shown, send it with Enter; the state it shows."""
    type_into(page, f"#f-{id_field}", found_id)
    type_into(page, "#f-status_token", status_token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#state")
    axe_check(page)
    state: str = page.inner_text("#state")
    return state
