"""The public intake's caps hold when intakes arrive at once, per source and per email.

Before, the count and the insert ran in separate transactions: on PostgreSQL intakes
arriving together all read a count under the cap and each added a complaint. The
threads here start together on a barrier; exactly the cap is admitted.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from haechi import Actor, ConsentEvidence, Engine
from haechi.rights.complaints import (
    INTAKE_PER_EMAIL_PER_DAY,
    INTAKE_PER_SOURCE_PER_HOUR,
    IntakeLimited,
)
from haechi.storage.complaints_tables import complaints
from haechi.storage.tables import audit_events
from tests.conftest import PERSON, Database, FakeClock, raw_storage

EXTRA = 4


def _file(engine: Engine, email: str, source: str) -> bool:
    """One public intake; whether it was admitted (False when capped)."""
    actor = Actor(
        name="public", kind="public", purposes=frozenset({"complaints"}), source_ip=source
    )
    try:
        engine.submit_complaint(
            items={**PERSON, "email": email},
            description="The parcel arrived broken.",
            consent=ConsentEvidence(granted=True, method="web-form", source_ip=source),
            actor=actor,
        )
    except IntakeLimited:
        return False
    return True


def _at_once(engine: Engine, senders: list[tuple[str, str]]) -> list[bool]:
    barrier = threading.Barrier(len(senders))

    def one(sender: tuple[str, str]) -> bool:
        barrier.wait()
        return _file(engine, *sender)

    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        return list(pool.map(one, senders))


def _stored(database: Database) -> tuple[int, int]:
    with database.engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(complaints)).scalar_one()
        refused = connection.execute(
            select(func.count()).where(
                audit_events.c.action == "complaint_open", audit_events.c.code == "RATE_LIMITED"
            )
        ).scalar_one()
    return int(stored), int(refused)


def test_intakes_at_once_for_one_email_admit_exactly_its_cap(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It admits exactly the per-email cap from many sources at once, then again a day later."""
    email = "petitioner.flooded@example.kr"
    senders = [(email, f"198.51.100.{n}") for n in range(INTAKE_PER_EMAIL_PER_DAY + EXTRA)]
    admitted = _at_once(engine, senders)
    assert sum(admitted) == INTAKE_PER_EMAIL_PER_DAY
    assert _stored(database) == (INTAKE_PER_EMAIL_PER_DAY, EXTRA)
    assert _file(engine, "someone.else@example.kr", "198.51.100.1")  # another email goes in
    with database.engine.connect() as connection:
        digests = set(connection.execute(select(complaints.c.email_digest)).scalars())
    assert len(digests) == 2
    assert None not in digests
    assert email.encode() not in b"".join(digests)
    assert b"petitioner.flooded" not in raw_storage(database)
    clock.advance(days=1, seconds=1)
    assert _file(engine, email, "203.0.113.9")
    print(
        f"\nper-email cap: {len(senders)} intakes at once, {sum(admitted)} admitted "
        f"(cap {INTAKE_PER_EMAIL_PER_DAY}), {len(senders) - sum(admitted)} refused"
    )


def test_intakes_at_once_from_one_source_admit_exactly_its_cap(
    engine: Engine, database: Database
) -> None:
    """It admits exactly the per-source cap when one address files for many emails at once."""
    senders = [
        (f"petitioner{n}@example.kr", "198.51.100.7")
        for n in range(INTAKE_PER_SOURCE_PER_HOUR + EXTRA)
    ]
    admitted = _at_once(engine, senders)
    assert sum(admitted) == INTAKE_PER_SOURCE_PER_HOUR
    assert _stored(database) == (INTAKE_PER_SOURCE_PER_HOUR, EXTRA)
    print(
        f"\nper-source cap: {len(senders)} intakes at once, {sum(admitted)} admitted "
        f"(cap {INTAKE_PER_SOURCE_PER_HOUR}), {len(senders) - sum(admitted)} refused"
    )
