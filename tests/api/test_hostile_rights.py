"""A hostile client against the person-facing request surfaces: caps, codes, inputs."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from haechi import Engine
from haechi.engine import SYSTEM
from haechi.rights.codes import RateLimited
from haechi.storage.complaints_tables import complaints
from haechi.storage.rights_tables import rights_codes
from haechi.storage.tables import collections
from haechi.subjects.matching import find_subject
from tests.api.test_complaints_api import (
    CONSENT,
    STRANGER,
    client,
    file_complaint,
    mail_engine,
    smtp,
)
from tests.conftest import PERSON
from tests.rights.support import collect

__all__ = ["client", "mail_engine", "smtp"]

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


def test_a_public_complaint_never_rewrites_the_petitioner_on_file(
    client: TestClient, mail_engine: Engine
) -> None:
    """It files a second complaint on the data on file, and keeps that data as it was.

    Anyone can type a known person's email into the public form: the name and phone
    they send with it must neither replace the person's nor come to find the person.
    """
    first = file_complaint(client)
    intruder = {**PERSON, "name": "침입자", "contact": "010-3333-4444"}
    second = client.post(
        "/api/v1/public/complaints",
        json={"items": intruder, "description": "a second petition", "consent": CONSENT},
    )
    assert second.status_code == 202
    assert second.json().keys() == first.keys()
    with mail_engine.database.connect() as connection:
        (subject_id,) = connection.execute(select(collections.c.subject_id)).scalars().all()
    kept = mail_engine.use(actor=SYSTEM, subject_id=subject_id, purpose="complaints")
    assert kept["name"] == PERSON["name"]
    assert kept["contact"] == PERSON["contact"]
    with mail_engine.transaction() as connection:
        found = find_subject(
            connection,
            index=mail_engine._index,
            kind="phone",
            value=intruder["contact"],
            actor=SYSTEM,
        )
    assert found.subject_id is None
    followed = client.get(
        f"/api/v1/public/complaints/{second.json()['complaint_id']}",
        headers={"X-Status-Token": second.json()["status_token"]},
    )
    assert followed.status_code == 200


def test_a_public_complaint_does_not_tell_that_the_data_on_file_is_held(
    client: TestClient, mail_engine: Engine
) -> None:
    """It answers an intake about a person whose data is held as it answers a stranger's.

    Both complaints can be followed with their tokens and both count towards the
    source's hourly limit, so neither the follow-up nor the limit tells the two apart.
    """
    file_complaint(client)
    with mail_engine.database.connect() as connection:
        (collection_id,) = connection.execute(select(collections.c.id)).scalars().all()
    mail_engine.place_hold(collection_id, reason="a pending deletion", actor=SYSTEM)
    with mail_engine.database.connect() as connection:
        before = connection.execute(select(func.count()).select_from(complaints)).scalar_one()
    answers = [file_complaint(client), file_complaint(client, STRANGER)]
    with mail_engine.database.connect() as connection:
        after = connection.execute(select(func.count()).select_from(complaints)).scalar_one()
    assert after == before + 2
    followed = [
        client.get(
            f"/api/v1/public/complaints/{answer['complaint_id']}",
            headers={"X-Status-Token": answer["status_token"]},
        )
        for answer in answers
    ]
    assert [response.status_code for response in followed] == [200, 200]
    assert followed[0].json().keys() == followed[1].json().keys()
