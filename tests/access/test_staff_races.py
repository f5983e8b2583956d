"""Staff changes racing each other: the loser is a conflict, never a database error."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Connection, insert

from haechi import Engine
from haechi.access.staff import grant_purposes
from haechi.engine import SYSTEM
from haechi.errors import Conflict, HaechiError
from haechi.storage.tables import staff
from tests.conftest import Database, FakeClock
from tests.subjects.test_recollect import _wait_until_blocked

THREADS = 8


def outcome(call: object) -> str:
    """``ok``, or the Haechi error's class name; any other exception propagates."""
    assert callable(call)
    try:
        call()
    except HaechiError as error:
        return type(error).__name__
    return "ok"


def test_one_name_created_at_once_makes_one_account(engine: Engine) -> None:
    """It creates one account when eight requests create the same name together."""

    def create() -> None:
        engine.add_staff(username="kim", role="handler", purposes=["service"], actor=SYSTEM)

    with ThreadPoolExecutor(THREADS) as pool:
        results = Counter(pool.map(outcome, [create] * THREADS))
    assert results == {"ok": 1, Conflict.__name__: THREADS - 1}
    assert [account.username for account in engine.staff(actor=SYSTEM)] == ["kim"]


def second_while_open(
    database: Database, first: Callable[[Connection], Any], second: Callable[[], Any]
) -> tuple[Any, dict[str, Any]]:
    """Run ``first`` in an open transaction, ``second`` in a thread until it waits, commit.

    The result of ``first``, and ``second``'s outcome (``result`` or ``error``).
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = second()
        except BaseException as error:  # examined in the test's thread
            outcome["error"] = error

    with database.engine.connect() as connection:
        connection.begin()
        held = first(connection)
        thread = threading.Thread(target=run)
        thread.start()
        _wait_until_blocked(database, "the second change")
        connection.commit()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return held, outcome


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_name_created_while_another_creation_is_open_is_a_conflict(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It refuses with a conflict the second of two creations of one name, never a 500."""
    row = {
        "id": "first-kim",
        "username": "kim",
        "role": "auditor",
        "password_hash": "not a hash",
        "must_change_password": True,
        "created_at": clock.now,
    }
    _, outcome = second_while_open(
        database,
        lambda connection: connection.execute(insert(staff).values(**row)),
        lambda: engine.add_staff(username="kim", role="auditor", actor=SYSTEM),
    )
    assert isinstance(outcome.get("error"), Conflict), outcome


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_grant_waits_for_another_grant_of_the_account(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It grants a purpose once when a second grant races an open one; neither fails."""
    engine.add_staff(username="kim", role="handler", purposes=["service"], actor=SYSTEM)
    granted, outcome = second_while_open(
        database,
        lambda connection: grant_purposes(
            connection,
            username="kim",
            purposes=["marketing"],
            declared_purposes={"marketing"},
            by=SYSTEM,
            reason="campaign",
            now=clock.now,
        ),
        lambda: engine.grant_staff("kim", purposes=["marketing"], reason="campaign", actor=SYSTEM),
    )
    if "error" in outcome:
        raise outcome["error"]
    assert (granted, outcome["result"]) == (["marketing"], [])
    assert [account.purposes for account in engine.staff(actor=SYSTEM)] == [
        ["marketing", "service"]
    ]
