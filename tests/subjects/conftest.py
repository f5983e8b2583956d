"""An engine whose ``complaints`` purpose takes a phone without an email."""

from __future__ import annotations

import pytest

from haechi import Engine, Settings
from haechi.crypto.keys import LocalKeyProvider
from haechi.policy import demo_policy_text, parse_policy
from tests.conftest import Database, FakeClock

_COMPLAINTS_ITEMS = 'items = ["name", "contact", "email", "company", "department", "title"]\n'


def phone_first_policy_text() -> str:
    """The demo policy, with the email optional for complaints (a phone call's record)."""
    text = demo_policy_text()
    start = text.index("[purposes.complaints]")
    at = text.index(_COMPLAINTS_ITEMS, start)
    optional = (
        'items = ["name", "contact", "company", "department", "title"]\n'
        'optional_items = ["email"]\n'
    )
    return text[:at] + optional + text[at + len(_COMPLAINTS_ITEMS) :]


@pytest.fixture
def phone_engine(
    database: Database, keys: LocalKeyProvider, clock: FakeClock, settings: Settings
) -> Engine:
    return Engine(
        database=database.engine,
        policy=parse_policy(phone_first_policy_text()),
        keys=keys,
        settings=settings,
        clock=clock,
    )
