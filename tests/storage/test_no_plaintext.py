"""No personal value is stored in plaintext: the raw database holds none of them."""

from __future__ import annotations

from sqlalchemy import text

from haechi import Actor, ConsentEvidence, Engine
from haechi.engine import SYSTEM
from tests.conftest import Database, raw_storage

CANARIES = [
    {
        "name": "설송이카나리",
        "contact": "010-9182-7364",
        "email": "canary.songi@plaintext-check.kr",
        "company": "Canary Plaintext Trading",
        "department": "Zebra Quartz Division",
        "title": "Chief Canary Officer",
    },
    {
        "name": "Marigold Canarysson",
        "contact": "+82 31-987-6543",
        "email": "marigold@plaintext-check.kr",
        "company": "Quokka Sealing Works",
        "department": "Ultramarine Desk",
        "title": "Keeper of Quinces",
    },
]


def needles() -> list[bytes]:
    found: list[bytes] = []
    for person in CANARIES:
        for value in person.values():
            found.append(value.encode("utf-8"))
        found.append(person["email"].lower().encode())
        digits = "".join(ch for ch in person["contact"] if ch.isdigit())
        found.append(digits.encode())
    found.append(b"0319876543")  # the +82 number in domestic form
    return found


def fill(engine: Engine) -> None:
    actor = Actor(name="checker", kind="staff", purposes=frozenset({"service", "marketing"}))
    for person in CANARIES:
        for purpose in ("service", "marketing"):
            result = engine.collect(
                purpose=purpose,
                items=person,
                consent=ConsentEvidence(granted=True, method="web-form"),
                actor=SYSTEM,
            )
            assert engine.use(actor=actor, subject_id=result.subject_id, purpose=purpose) == person
        engine.find_subject(actor=actor, kind="email", value=person["email"])


def test_raw_database_holds_no_plaintext(engine: Engine, database: Database) -> None:
    """It finds none of the inserted values in the SQLite file and WAL, or in a pg_dump."""
    fill(engine)
    with database.engine.connect() as connection:
        assert connection.execute(text("select count(*) from items")).scalar_one() > 0
    raw = raw_storage(database)
    assert len(raw) > 0
    if database.backend == "postgresql":
        assert b"COPY public.items" in raw
    leaked = [needle for needle in needles() if needle in raw]
    assert leaked == []
