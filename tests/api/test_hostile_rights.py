"""A hostile client against the person-facing request surfaces: caps, codes, inputs."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from haechi import Engine
from haechi.rights.codes import RateLimited
from haechi.storage.rights_tables import rights_codes
from tests.rights.support import collect

KNOWN = "minji.kim@example.kr"


def _at_once(count: int, work: Callable[[int], None]) -> None:
    """Run ``work`` in ``count`` threads released together."""
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        work(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_requests_for_one_address_stay_within_the_hourly_cap(
    engine: Engine, person: dict[str, str]
) -> None:
    """It issues at most the hourly cap of codes for one address, however many arrive at once.

    Each code has its own tries, so codes past the cap would multiply the guesses an
    attacker gets at a known person's request.
    """
    collect(engine, person)
    cap = engine.request_rules.codes_per_address_hour
    outcomes: list[str] = []

    def submit(index: int) -> None:
        try:
            engine.submit_request(kind="access", email=KNOWN, source_ip=f"192.0.2.{index + 1}")
            outcomes.append("issued")
        except RateLimited:
            outcomes.append("limited")

    _at_once(cap * 3, submit)
    with engine.database.connect() as connection:
        issued = connection.execute(select(func.count()).select_from(rights_codes)).scalar_one()
    assert issued <= cap
    assert outcomes.count("issued") == issued
