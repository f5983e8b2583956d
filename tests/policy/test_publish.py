"""Publishing versions: numbered, dated, refused when the notice rules are not met."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from haechi import Engine
from haechi.errors import Conflict, InvalidInput
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.tables import audit_events, policy_versions
from tests.conftest import Database
from tests.policy.versions_helpers import publish, variant


def test_the_first_version_takes_effect_at_once_and_is_number_one(
    engine: Engine, database: Database
) -> None:
    """It stores the file, its hash, both documents and the dates, and logs the publication."""
    loaded = parse_policy(demo_policy_text())
    version = publish(engine, loaded)
    assert (version.n, version.id, version.effective_at) == (1, loaded.version_id, engine.clock())
    with database.engine.connect() as connection:
        row = connection.execute(select(policy_versions).where(policy_versions.c.n == 1)).one()
        actions = connection.execute(select(audit_events.c.action)).scalars().all()
    assert row.text == loaded.text
    assert row.content_hash == loaded.content_hash
    assert row.document_ko.startswith("<html")
    assert row.announced_at == engine.clock()
    assert "publish_policy" in actions
    in_force, upcoming = engine.policy_status()
    assert in_force is not None
    assert in_force.n == 1
    assert upcoming == []


def test_a_later_version_needs_the_notice_period(engine: Engine) -> None:
    """It refuses a second version less than 7 days ahead, and takes one 7 days ahead."""
    publish(engine, parse_policy(demo_policy_text()))
    second = variant("v2", retention="P3M")
    with pytest.raises(InvalidInput) as short:
        publish(engine, second, days=6.9)
    assert short.value.code == "NOTICE_TOO_SHORT"
    with pytest.raises(InvalidInput):
        publish(engine, second)  # at once
    version = publish(engine, second, days=7)
    assert version.n == 2
    assert [v.n for v in engine.policy_status()[1]] == [2]


def test_a_file_identical_to_a_published_version_is_refused(engine: Engine) -> None:
    """It refuses to publish the same content twice, naming the version it repeats."""
    loaded = parse_policy(demo_policy_text())
    publish(engine, loaded)
    with pytest.raises(Conflict) as same:
        publish(engine, loaded, days=8)
    assert same.value.code == "POLICY_UNCHANGED"
    assert "version 1" in same.value.message
    assert [v.n for v in engine.published_versions()] == [1]


def test_versions_are_listed_oldest_first_with_their_dates(engine: Engine) -> None:
    """It lists each version once, numbered in order, with announcement and effective dates."""
    publish(engine, parse_policy(demo_policy_text()))
    publish(engine, variant("v2", retention="P3M"), days=10)
    listed = engine.published_versions()
    assert [v.n for v in listed] == [1, 2]
    assert listed[1].effective_at - listed[1].announced_at == timedelta(days=10)
    _, loaded, documents = engine.published_version(2)
    assert loaded.policy.purposes["marketing"].retention == "P3M"
    assert set(documents) == {"ko", "en"}
