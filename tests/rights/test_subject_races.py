"""Conflicting changes to one person's data at once: consistent states, nothing lost.

Each round makes one fresh subject with a collection for each of three purposes, lets
a year and three days pass (every collection is due: two to be destroyed, the complaint
record to be separated under its legal hold), and then starts seven callers of one
shared engine together: a correction request and a deletion request carried out, a
retention sweep, an access request answered with its export, a re-collection for one
purpose, a direct destruction, and a new request by phone (which opens the email on
file to send its code). After each round every collection of the subject is
whole and readable, or destroyed once with one certificate; what was done is what the
data shows; a last sweep leaves nothing due behind. The log verifies at the end.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select

from haechi import ConsentEvidence, Engine
from haechi.access.decision import CollectionState
from haechi.engine import SYSTEM
from haechi.errors import HaechiError
from haechi.rights.exports import open_items
from haechi.rights.models import PublicReceipt
from haechi.storage.rights_tables import rights_requests
from haechi.storage.tables import (
    collections,
    data_keys,
    destruction_batches,
    destruction_certificates,
    holds,
    items,
    separated_items,
    separated_keys,
)
from tests.conftest import Database, FakeClock
from tests.subjects.test_recollect import lock_waiters

ROUNDS = 20
PURPOSES = ("complaints", "marketing", "service")
HELD_PURPOSE = "complaints"  # kept apart for three years after its year (legal hold)
LIVE = {state.value for state in (CollectionState.ACTIVE, CollectionState.HELD)} | {
    CollectionState.SUSPENDED.value
}
YES = ConsentEvidence(granted=True, method="web-form")
JOIN_SECONDS = 60  # a caller still running by then is hung: the round fails
CORRECTED = {"title": "부장"}
RECOLLECTED = {"title": "차장", "department": "영업팀"}

# The refusals a caller may meet in these races: typed errors, by their codes. Only the
# re-collection is ever refused: a pending correction or deletion holds the data as it
# is (policy §3③). Everything else is answered, e.g. a deletion that finds its data
# destroyed by the sweep first completes with what is left, and a destruction of what
# is already destroyed says so (``already_destroyed``).
ACCEPTED = {
    "collect": {"Conflict:COLLECTION_HELD"},
    "correction": set(),
    "deletion": set(),
    "access": set(),
    "sweep": set(),
    "destroy": set(),
    "submit": set(),
}


def person(n: int) -> dict[str, str]:
    """Round ``n``'s person (fictional values): a fresh email and phone each round."""
    return {
        "name": "박서준",
        "contact": f"010-7{n:03d}-{4000 + n:04d}",
        "email": f"seojun.park{n}@example.kr",
        "company": "누리상사",
        "department": "구매팀",
        "title": "대리",
    }


@dataclass
class Round:
    """One round's subject, its collections, and the requests waiting for their code."""

    n: int
    values: dict[str, str]
    subject_id: str
    originals: dict[str, str]  # purpose → collection id
    requests: dict[str, tuple[PublicReceipt, str]]  # kind → (receipt, code)
    recollect: str
    verified_before: bool
    outcomes: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)


def prepare(engine: Engine, clock: FakeClock, n: int) -> Round:
    """Collect for every purpose, let them all fall due, and receive the three requests."""
    values = person(n)
    originals = {
        purpose: engine.collect(purpose=purpose, items=values, consent=YES, actor=SYSTEM)
        for purpose in PURPOSES
    }
    [subject_id] = {result.subject_id for result in originals.values()}
    clock.advance(days=368)  # past every retention (P6M, P1Y), within P1Y's grace
    requests: dict[str, tuple[PublicReceipt, str]] = {}
    for kind, corrections in (
        ("correction", CORRECTED),
        ("deletion", None),
        ("access", None),
    ):
        receipt = engine.submit_request(
            kind=kind,
            email=values["email"],
            corrections=corrections,
            source_ip=f"198.51.100.{n % 250 + 1}",
        )
        assert receipt.code_mail is not None
        requests[kind] = (receipt, receipt.code_mail.code)
    verified_before = n % 2 == 1
    if verified_before:
        # Odd rounds: the holds are on before the race, so the re-collection meets them.
        for receipt, code in requests.values():
            verify(engine, receipt, code)
    return Round(
        n,
        values,
        subject_id,
        {purpose: result.collection_id for purpose, result in originals.items()},
        requests,
        recollect=PURPOSES[n % len(PURPOSES)],
        verified_before=verified_before,
    )


def verify(engine: Engine, receipt: PublicReceipt, code: str) -> None:
    engine.verify_request_code(
        receipt.request_id, status_token=receipt.status_token, code=code, source_ip=None
    )


def callers(engine: Engine, game: Round) -> dict[str, Callable[[], Any]]:
    """The seven conflicting callers of a round, by name."""

    def carried_out(kind: str) -> Callable[[], Any]:
        receipt, code = game.requests[kind]

        def run() -> Any:
            if not game.verified_before:
                verify(engine, receipt, code)
            return engine.complete_request(receipt.request_id, delivery="post", actor=SYSTEM)

        return run

    return {
        "correction": carried_out("correction"),
        "deletion": carried_out("deletion"),
        "access": carried_out("access"),
        "sweep": lambda: engine.sweep(name=f"sweep-{game.n}"),
        "collect": lambda: engine.collect(
            purpose=game.recollect,
            items={**game.values, **RECOLLECTED},
            consent=YES,
            actor=SYSTEM,
        ),
        "destroy": lambda: engine.destroy(game.originals["marketing"], actor=SYSTEM),
        # Found by phone, the request opens the email on file to send its code to.
        "submit": lambda: engine.submit_request(
            kind="access", phone=game.values["contact"], source_ip=f"203.0.113.{game.n + 1}"
        ),
    }


def race(engine: Engine, game: Round) -> None:
    """Start every caller at once; record each outcome; fail on a hang or a crash."""
    calls = callers(engine, game)
    start = threading.Barrier(len(calls))
    crashed: dict[str, BaseException] = {}

    def run(name: str, call: Callable[[], Any]) -> None:
        start.wait()
        try:
            game.results[name] = call()
            game.outcomes[name] = "ok"
        except HaechiError as error:
            game.outcomes[name] = f"{type(error).__name__}:{error.code}"
        except BaseException as error:  # examined in the test's thread
            crashed[name] = error

    threads = [
        threading.Thread(target=run, args=(name, call), name=name) for name, call in calls.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    hung = [thread.name for thread in threads if thread.is_alive()]
    assert not hung, f"round {game.n}: {hung} still running after {JOIN_SECONDS} s"
    for name, error in crashed.items():
        raise AssertionError(f"round {game.n}: {name} failed with {error!r}") from error
    for name, outcome in game.outcomes.items():
        if outcome != "ok":
            assert outcome in ACCEPTED[name], f"round {game.n}: {name} refused with {outcome}"


def _count(connection: Connection, table: Any, collection_id: str) -> int:
    query = select(func.count()).select_from(table).where(table.c.collection_id == collection_id)
    return int(connection.execute(query).scalar_one())


def whole_or_destroyed(engine: Engine, subject_id: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Assert each collection of the subject is whole or destroyed once; its state, values.

    A whole collection opens every item under its key, in its own store; a destroyed
    one keeps no key and no item in either store, and exactly one certificate.
    """
    found: dict[str, tuple[str, dict[str, str]]] = {}
    with engine.database.connect() as connection:
        rows = connection.execute(
            select(collections.c.id, collections.c.state, collections.c.key_version).where(
                collections.c.subject_id == subject_id
            )
        ).all()
        for row in rows:
            certified = _count(connection, destruction_certificates, row.id)
            stores = {
                "main": (_count(connection, data_keys, row.id), _count(connection, items, row.id)),
                "separated": (
                    _count(connection, separated_keys, row.id),
                    _count(connection, separated_items, row.id),
                ),
            }
            values: dict[str, str] = {}
            if row.state == CollectionState.DESTROYED.value:
                assert certified == 1, (row.id, certified)
                assert stores == {"main": (0, 0), "separated": (0, 0)}, (row.id, stores)
            else:
                assert certified == 0, (row.id, row.state)
                separated = row.state == CollectionState.SEPARATED.value
                assert separated or row.state in LIVE, row.state
                whole, empty = (1, 6), (0, 0)
                expected = (
                    {"main": empty, "separated": whole}
                    if separated
                    else {
                        "main": whole,
                        "separated": empty,
                    }
                )
                assert stores == expected, (row.id, row.state, stores)
                values = open_items(
                    connection,
                    keys=engine.keys,
                    collection_id=row.id,
                    version=row.key_version,
                    separated=separated,
                )
                assert len(values) == 6, (row.id, sorted(values))
            found[row.id] = (row.state, values)
    return found


def open_holds(engine: Engine, ids: list[str]) -> int:
    with engine.database.connect() as connection:
        query = select(func.count()).where(
            holds.c.collection_id.in_(ids), holds.c.released_at.is_(None)
        )
        return int(connection.execute(query).scalar_one())


def request_rows(engine: Engine, game: Round) -> dict[str, Any]:
    with engine.database.connect() as connection:
        return {
            kind: connection.execute(
                select(rights_requests.c.state, rights_requests.c.outcome).where(
                    rights_requests.c.id == receipt.request_id
                )
            ).one()
            for kind, (receipt, _) in game.requests.items()
        }


def check_round(engine: Engine, game: Round, tally: Counter[str]) -> None:
    """What the data shows after a round agrees with what each caller was told."""
    found = whole_or_destroyed(engine, game.subject_id)
    original = game.values
    allowed = [
        original,
        {**original, **CORRECTED},
        {**original, **RECOLLECTED},
        {**original, **RECOLLECTED, **CORRECTED},
    ]
    for state, values in found.values():
        if values:
            assert values in allowed, (state, values)  # never half of one version
    live_by_purpose = Counter(
        row_purpose
        for collection_id, (state, _) in found.items()
        if state in LIVE
        for row_purpose in [purpose_of(engine, collection_id)]
    )
    assert all(count == 1 for count in live_by_purpose.values()), live_by_purpose
    assert open_holds(engine, list(found)) == 0, "a closed request left a hold on"
    requests = request_rows(engine, game)
    for kind, row in requests.items():
        outcome = game.outcomes[kind]
        assert (outcome == "ok") == (row.state in {"completed", "refused"}), (kind, row.state)
    deletion = requests["deletion"]
    if deletion.outcome:
        for entry in json.loads(deletion.outcome)["destroyed"]:
            # Destroyed once, and not brought back by a correction or a re-collection.
            assert found[entry["collection_id"]][0] == CollectionState.DESTROYED.value
    correction = requests["correction"]
    if correction.outcome:
        for entry in json.loads(correction.outcome)["corrected"]:
            state, values = found[entry["collection_id"]]
            # Corrected, unless destroyed, separated or given again after the correction.
            if state in LIVE and values.get("department") != RECOLLECTED["department"]:
                assert values == {**original, **CORRECTED}, values
    recollected = game.results.get("collect")
    if recollected is not None:
        state, values = found[recollected.collection_id]
        if state in LIVE:
            assert values["department"] == RECOLLECTED["department"], values
        tally[f"collect {'new' if recollected.created else 'replaced'} → {state}"] += 1
    access = game.results.get("access")
    if access is not None:
        check_export(access.export.data, found)
        tally["access export"] += 1
    for name, outcome in game.outcomes.items():
        tally[f"{name} {outcome}"] += 1
    if deletion.outcome:
        tally["deletion destroyed"] += len(json.loads(deletion.outcome)["destroyed"])
        tally["deletion kept (legal hold)"] += len(json.loads(deletion.outcome)["kept"])
    if correction.outcome:
        tally["correction corrected"] += len(json.loads(correction.outcome)["corrected"])
    sweep = game.results.get("sweep")
    if sweep is not None:
        tally["sweep destroyed"] += sweep.destroyed
        tally["sweep separated"] += sweep.separated
    destroy = game.results.get("destroy")
    if destroy is not None:
        tally[f"destroy {'already destroyed' if destroy.already_destroyed else 'destroyed'}"] += 1


def purpose_of(engine: Engine, collection_id: str) -> str:
    with engine.database.connect() as connection:
        query = select(collections.c.purpose).where(collections.c.id == collection_id)
        return str(connection.execute(query).scalar_one())


def check_export(data: dict[str, Any], found: dict[str, tuple[str, dict[str, str]]]) -> None:
    """The export answers with whole collections: every item of a kept one, none of a gone one.

    It is one moment's picture: a collection it shows kept may have been destroyed since,
    never the other way round, and one it shows destroyed stays destroyed.
    """
    for entry in data["collections"]:
        if entry["state"] == CollectionState.DESTROYED.value:
            assert entry["items"] == {}, entry["id"]
            assert found[entry["id"]][0] == CollectionState.DESTROYED.value
        else:
            assert len(entry["items"]) == 6, (entry["id"], entry["state"], sorted(entry["items"]))


def settle(engine: Engine, game: Round, tally: Counter[str]) -> None:
    """A last sweep, alone: nothing of the subject stays due, and each state still holds."""
    report = engine.sweep(name=f"settle-{game.n}")
    tally["settling sweep destroyed"] += report.destroyed
    tally["settling sweep separated"] += report.separated
    found = whole_or_destroyed(engine, game.subject_id)
    now = engine.clock()
    with engine.database.connect() as connection:
        due = connection.execute(
            select(collections.c.id).where(
                collections.c.subject_id == game.subject_id,
                collections.c.state.in_(sorted(LIVE)),
                collections.c.due_at <= now,
            )
        ).all()
    assert due == [], due
    for purpose in ("marketing", "service"):
        assert found[game.originals[purpose]][0] == CollectionState.DESTROYED.value, purpose
    held = found[game.originals[HELD_PURPOSE]][0]
    recollected = game.results.get("collect")
    replaced = (
        recollected is not None
        and recollected.collection_id == game.originals[HELD_PURPOSE]
        and not recollected.created
    )
    assert held in ({CollectionState.ACTIVE.value} if replaced else {"separated"}), held
    for collection_id, (state, _) in found.items():
        tally[f"final {state}"] += 1
        assert collection_id in game.originals.values() or (
            recollected is not None and collection_id == recollected.collection_id
        )


@pytest.mark.slow
def test_conflicting_rights_on_one_subject_leave_consistent_states(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It ends every round with each collection whole or destroyed once, and loses nothing.

    Refusals are typed and listed in ACCEPTED; no caller hangs or fails otherwise.
    """
    tally: Counter[str] = Counter()
    for n in range(ROUNDS):
        game = prepare(engine, clock, n)
        race(engine, game)
        check_round(engine, game, tally)
        settle(engine, game, tally)
    with engine.database.connect() as connection:
        certified = connection.execute(
            select(func.count()).select_from(destruction_certificates)
        ).scalar_one()
        batched = connection.execute(select(func.sum(destruction_batches.c.destroyed))).scalar()
    assert certified == batched
    clock.advance(minutes=5)
    engine.seal_all()
    report = engine.verify_log()
    assert report.ok, report.problems
    print(f"\n{database.backend}: {ROUNDS} rounds × {len(ACCEPTED)} callers")
    for line, count in sorted(tally.items()):
        print(f"  {line}: {count}")
    print(f"  certificates: {certified}, log events verified: {report.size}, lost: 0")


def _done_or_blocked(database: Database, thread: threading.Thread) -> str:
    """``done`` once ``thread`` ended, ``blocked`` once a backend waits on a lock (bounded)."""
    deadline = time.monotonic() + 30
    with database.engine.connect() as probe:
        while time.monotonic() < deadline:
            if not thread.is_alive():
                return "done"
            if lock_waiters(probe):
                return "blocked"
    pytest.fail("the re-collection neither finished nor waited")


READERS: dict[str, Callable[[Engine, str, dict[str, str]], Any]] = {
    "access export": lambda engine, subject_id, values: engine.export_subject(
        subject_id, actor=SYSTEM
    ),
    "request by phone": lambda engine, subject_id, values: engine.submit_request(
        kind="access", phone=values["contact"], source_ip="203.0.113.9"
    ),
}


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_recollection_between_a_row_and_its_key_waits_for_the_reader(
    engine: Engine, database: Database, reader: str
) -> None:
    """It opens the values the row it read names, never a newer key: no false tamper alarm.

    The re-collection commits, unless held off, right after the reader has read the
    collection's row and before it reads the row's key: the reader must hold the row.
    """
    values = person(0)
    first = engine.collect(purpose="service", items=values, consent=YES, actor=SYSTEM)
    again: dict[str, Any] = {}
    state: dict[str, str] = {}
    reading = threading.current_thread()

    def recollect() -> None:
        again["result"] = engine.collect(
            purpose="service", items={**values, **RECOLLECTED}, consent=YES, actor=SYSTEM
        )

    def before_key_read(*args: Any) -> None:
        statement = args[2]
        if state or threading.current_thread() is not reading:
            return
        if "FROM data_keys" in statement:
            collector = threading.Thread(target=recollect)
            collector.start()
            state["collector"] = _done_or_blocked(database, collector)
            again["thread"] = collector

    event.listen(database.engine, "before_cursor_execute", before_key_read)
    try:
        answer = READERS[reader](engine, first.subject_id, values)
    finally:
        event.remove(database.engine, "before_cursor_execute", before_key_read)
    again["thread"].join(timeout=JOIN_SECONDS)
    assert not again["thread"].is_alive()
    assert state == {"collector": "blocked"}
    assert again["result"].collection_id == first.collection_id
    if reader == "access export":
        [entry] = answer.data["collections"]
        assert entry["items"] == values
    else:
        assert answer.code_mail is not None
        assert answer.code_mail.address == values["email"]
    assert engine.use(actor=SYSTEM, subject_id=first.subject_id, purpose="service") == {
        **values,
        **RECOLLECTED,
    }
