"""Shared by the request tests: a real SMTP inbox, an app wired to it, staff and people."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app
from haechi.config import MailSettings
from haechi.engine import SYSTEM
from haechi.errors import AccessDenied
from haechi.mail import SmtpNotifier
from haechi.mail.requests import drain_couriers
from haechi.subjects.service import ConsentEvidence
from haechi.web import export_renderer
from tests.access.staff_helpers import add_and_login
from tests.cli.test_cli import free_port

__all__ = [
    "Inbox",
    "bearer",
    "client",
    "code_of",
    "collect",
    "inbox",
    "refused_use",
    "staff",
    "text_of",
]


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # each message's bytes as the server took them

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.content  # type: ignore[attr-defined]
        message = message_from_bytes(content, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        self.raw.append(content)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        # Codes go out from the application's courier thread: wait until it is idle.
        drain_couriers()
        return [message for message in self.messages if message["To"] == address]


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on ``port`` for the block, and what it received."""
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    port = free_port()
    with smtp_server(port) as handler:
        yield handler, port


@pytest.fixture
def client(engine: Engine, inbox: tuple[Inbox, int]) -> Iterator[TestClient]:
    notifier = SmtpNotifier(MailSettings(smtp_host="127.0.0.1", smtp_port=inbox[1]))
    app = create_app(
        engine=engine,
        notifier=notifier,
        export_renderer=export_renderer(lambda: engine.policy.policy),
    )
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000)) as test:
        yield test


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def staff(engine: Engine, username: str, role: str, *purposes: str) -> dict[str, str]:
    """Headers of a logged-in staff member."""
    secret, _ = add_and_login(engine, username, role, *purposes)
    return bearer(secret)


def collect(engine: Engine, person: dict[str, str], purpose: str = "service") -> str:
    """Collect ``person`` for ``purpose``; return the subject id."""
    return engine.collect(
        purpose=purpose,
        items=person,
        consent=ConsentEvidence(granted=True, method="web-form"),
        actor=SYSTEM,
    ).subject_id


def text_of(message: EmailMessage) -> str:
    """The plain-text body of a message."""
    body = message.get_body(("plain",))
    assert body is not None
    text: str = body.get_content()
    return text


def code_of(message: EmailMessage) -> str:
    """The 6-digit code a code mail carries."""
    found = re.search(r"\b(\d{6})\b", text_of(message))
    assert found is not None
    return found.group(1)


def refused_use(engine: Engine, subject_id: str, purpose: str) -> str:
    """The reason code ``use()`` refuses a read with."""
    with pytest.raises(AccessDenied) as refused:
        engine.use(actor=SYSTEM, subject_id=subject_id, purpose=purpose)
    return refused.value.code
