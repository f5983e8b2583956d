"""The version in force follows the clock, on every engine sharing the database.

On its effective date it governs collect, use and the sweep, without a restart.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from haechi import Engine, Settings
from haechi.crypto.keys import LocalKeyProvider
from haechi.engine import SYSTEM
from haechi.errors import ItemNotDeclared
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import create_db_engine
from tests.conftest import Database, FakeClock
from tests.policy.versions_helpers import consent, publish, variant


@pytest.fixture
def other(
    database: Database, keys: LocalKeyProvider, clock: FakeClock, settings: Settings
) -> Iterator[Engine]:
    """A second server: its own connection pool on the same database, the same clock."""
    server = Engine(
        database=create_db_engine(database.url),
        policy=parse_policy(demo_policy_text()),
        keys=keys,
        settings=settings,
        clock=clock,
    )
    yield server
    server.close()


def test_a_version_published_on_one_server_governs_the_other_on_its_date(
    engine: Engine, other: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It switches both engines to version 2 at its effective date, with no restart."""
    first = publish(engine, parse_policy(demo_policy_text()))
    assert other.policy.version_id == first.id  # cached by the second server from now on
    second = publish(engine, variant("v2", add_item=True, retention="P1Y"), days=7)
    clock.advance(days=6, hours=23)
    assert other.policy.version_id == first.id
    with pytest.raises(ItemNotDeclared):
        other.collect(
            purpose="marketing",
            items={**person, "interests": "보안"},
            consent=consent(),
            actor=SYSTEM,
        )
    clock.advance(hours=1)
    assert engine.policy.version_id == other.policy.version_id == second.id
    result = other.collect(
        purpose="marketing", items={**person, "interests": "보안"}, consent=consent(), actor=SYSTEM
    )
    info = engine.collection(result.collection_id, actor=SYSTEM)
    assert info.policy_version == second.id
    assert info.expires_at == clock.now.replace(year=clock.now.year + 1)  # P1Y, not P6M
    values = engine.use(
        actor=SYSTEM, subject_id=result.subject_id, purpose="marketing", items=["interests"]
    )
    assert values == {"interests": "보안"}


def test_before_any_publication_the_file_governs(engine: Engine) -> None:
    """It enforces the file it was opened with until a first version is published."""
    assert engine.policy.version_id == parse_policy(demo_policy_text()).version_id
    assert engine.policy_status() == (None, [])
