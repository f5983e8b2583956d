"""The sealed log: dense leaves, chained signed heads, proofs, witnesses, pruning, tampering."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select, text

from haechi import Actor, ConsentEvidence, Engine
from haechi.audit.canonical import EVENT_FIELDS, encode_event
from haechi.audit.events import record_event
from haechi.audit.merkle import CompactRange, leaf_hash
from haechi.audit.sealer import seal_on
from haechi.audit.signing import TreeHead
from haechi.audit.verify import verify_log
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.tables import audit_events, audit_leaves
from tests.conftest import Database, FakeClock

YES = ConsentEvidence(granted=True, method="web-form")
CRM = Actor(name="crm", kind="token", purposes=frozenset({"service", "marketing"}))


def activity(engine: Engine, person: dict[str, str], rounds: int) -> None:
    """Collections and reads: a few events per round."""
    for index in range(rounds):
        who = {**person, "email": f"person{index}@example.kr", "contact": f"010-3000-{index:04d}"}
        result = engine.collect(purpose="service", items=who, consent=YES, actor=SYSTEM)
        engine.use(actor=CRM, subject_id=result.subject_id, purpose="service", items=["name"])


@pytest.fixture
def sealed(engine: Engine, person: dict[str, str], clock: FakeClock) -> Engine:
    """A log of 24 events under three heads."""
    for _ in range(3):
        activity(engine, person, 4)
        clock.advance(seconds=1)
        assert engine.seal().head is not None
    return engine


def test_sealing_assigns_dense_leaves_under_chained_heads(sealed: Engine) -> None:
    """It seals every event once, in order, under signed heads that chain."""
    heads = sealed.tree_heads()
    assert [head.size for head in heads] == [8, 16, 24]
    assert all(sealed.signer.verify(head) for head in heads)
    assert heads[1].prev_hash == heads[0].digest()
    with sealed.database.connect() as connection:
        indices = connection.execute(
            select(audit_leaves.c.leaf_index).order_by(audit_leaves.c.leaf_index)
        ).scalars()
        assert list(indices) == list(range(24))
    report = sealed.verify_log()
    assert report.ok, report.problems
    assert (report.size, report.heads, report.leaves_checked) == (24, 3, 24)


def test_nothing_to_seal_makes_no_head(sealed: Engine) -> None:
    """It signs no new head when no event is waiting."""
    assert sealed.seal().head is None
    assert len(sealed.tree_heads()) == 3


def test_inclusion_and_consistency_proofs(sealed: Engine) -> None:
    """It proves each event's inclusion and each pair of heads' consistency."""
    for event in sealed.events(limit=24):
        proof = sealed.prove(event.id)
        assert proof.verify()
    assert sealed.consistency(8, 24).verify()
    assert sealed.consistency(16, 24).verify()


def test_encoding_is_stable_across_a_database_round_trip(sealed: Engine) -> None:
    """It re-encodes stored events to exactly the bytes that were sealed."""
    with sealed.database.connect() as connection:
        rows = connection.execute(
            select(audit_leaves.c.leaf_hash, *[audit_events.c[n] for n in EVENT_FIELDS]).join(
                audit_events, audit_events.c.id == audit_leaves.c.event_id
            )
        ).all()
    assert all(leaf_hash(encode_event(row[1:])) == bytes(row[0]) for row in rows)


# -- tampering ---------------------------------------------------------------------

TRIGGERS = {
    "sqlite": [
        "audit_events_no_update",
        "audit_events_delete_needs_permit",
        "audit_leaves_no_update",
        "audit_leaves_delete_needs_permit",
        "tree_heads_no_update",
        "tree_heads_no_delete",
    ],
    "postgresql": [
        "audit_events_append_only ON audit_events",
        "audit_leaves_append_only ON audit_leaves",
        "tree_heads_append_only ON tree_heads",
    ],
}


@contextmanager
def attacker(database: Database) -> Iterator[Connection]:
    """A connection with the append-only triggers dropped, rolled back afterwards."""
    connection = database.engine.connect()
    transaction = connection.begin()
    try:
        for trigger in TRIGGERS[database.backend]:
            connection.execute(text(f"DROP TRIGGER {trigger}"))
        yield connection
    finally:
        transaction.rollback()
        connection.close()


def event_of_leaf(connection: Connection, index: int) -> int:
    return int(
        connection.execute(
            select(audit_leaves.c.event_id).where(audit_leaves.c.leaf_index == index)
        ).scalar_one()
    )


FIELDS = ["actor", "action", "purpose", "items", "reason", "outcome", "code", "source_ip"]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["field", "delete", "delete-leaf", "swap", "splice", "truncate"]),
    index=st.integers(min_value=0, max_value=23),
    other=st.integers(min_value=0, max_value=23),
    field=st.sampled_from(FIELDS),
)
def test_every_single_tamper_is_detected(
    sealed: Engine, database: Database, kind: str, index: int, other: int, field: str
) -> None:
    """It detects any change, deletion, insertion or reordering of a sealed event."""
    with attacker(database) as connection:
        victim = event_of_leaf(connection, index)
        exact = True
        if kind == "field":
            connection.execute(
                text(f"UPDATE audit_events SET {field} = 'forged' WHERE id = :id"), {"id": victim}
            )
        elif kind == "delete":
            connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": victim})
        elif kind == "delete-leaf":
            connection.execute(text("DELETE FROM audit_leaves WHERE leaf_index = :i"), {"i": index})
            connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": victim})
        elif kind == "swap":
            if other == index:
                other = (index + 1) % 24
            second = event_of_leaf(connection, other)
            # Exchange which event each leaf points at: a reordering of the log.
            connection.execute(
                text("UPDATE audit_leaves SET event_id = -1 WHERE event_id = :a"), {"a": victim}
            )
            connection.execute(
                text("UPDATE audit_leaves SET event_id = :a WHERE event_id = :b"),
                {"a": victim, "b": second},
            )
            connection.execute(
                text("UPDATE audit_leaves SET event_id = :b WHERE event_id = -1"), {"b": second}
            )
            index = min(index, other)
        elif kind == "splice":
            # Insert a well-formed forged event at `index`, shifting later leaves.
            forged = connection.execute(
                text(
                    "INSERT INTO audit_events (occurred_at, actor, actor_kind, action, items, "
                    "outcome) SELECT occurred_at, 'ghost', 'staff', 'view', '[]', 'allowed' "
                    "FROM audit_events WHERE id = :id RETURNING id"
                ),
                {"id": victim},
            ).scalar_one()
            connection.execute(
                text(
                    "UPDATE audit_leaves SET leaf_index = leaf_index + 1000 WHERE leaf_index >= :i"
                ),
                {"i": index},
            )
            connection.execute(
                text(
                    "UPDATE audit_leaves SET leaf_index = leaf_index - 999 WHERE leaf_index >= 1000"
                )
            )
            row = connection.execute(
                select(*[audit_events.c[n] for n in EVENT_FIELDS]).where(
                    audit_events.c.id == forged
                )
            ).one()
            connection.execute(
                audit_leaves.insert().values(
                    leaf_index=index, event_id=forged, leaf_hash=leaf_hash(encode_event(row))
                )
            )
            exact = False
        else:  # truncate: drop the newest leaves and their events
            connection.execute(
                text("DELETE FROM audit_leaves WHERE leaf_index >= :i"), {"i": index}
            )
        report = verify_log(connection, sealed.signer)
    assert not report.ok
    assert report.first_bad_leaf is not None
    if exact:
        assert report.first_bad_leaf == index
    else:
        assert report.first_bad_leaf <= index


def test_a_forged_head_signature_is_detected(sealed: Engine, database: Database) -> None:
    """It refuses a head whose root was replaced, even with the leaves untouched."""
    with attacker(database) as connection:
        connection.execute(text("UPDATE tree_heads SET root = prev_hash WHERE size = 16"))
        report = verify_log(connection, sealed.signer)
    assert not report.ok
    assert any("bad signature" in problem for problem in report.problems)


def test_a_witness_catches_a_rewritten_and_resigned_log(
    sealed: Engine, database: Database, clock: FakeClock
) -> None:
    """It catches a log rebuilt with the real key when a witness holds an older head."""
    witness = [TreeHead.from_json(head.to_json()) for head in sealed.tree_heads()[:2]]
    assert sealed.verify_log(witness=witness).ok
    # Someone with the signing key rewrites event 3 and re-seals the whole log.
    with attacker(database) as connection:
        victim = event_of_leaf(connection, 3)
        connection.execute(
            text("UPDATE audit_events SET actor = 'nobody' WHERE id = :id"), {"id": victim}
        )
        connection.execute(text("DELETE FROM audit_leaves"))
        connection.execute(text("DELETE FROM tree_heads"))
        seal_on(connection, sealed.signer, now=clock)
        assert verify_log(connection, sealed.signer).ok  # self-consistent on its own…
        report = verify_log(connection, sealed.signer, witness=witness)
    assert not report.ok  # …but not with what the witness saw
    assert any("does not match" in problem for problem in report.problems)


def test_a_witness_catches_a_truncated_log(sealed: Engine) -> None:
    """It refuses a log shorter than a head the witness holds."""
    witness = [TreeHead.from_json({**sealed.tree_heads()[-1].to_json(), "size": 99})]
    report = sealed.verify_log(witness=witness)
    assert not report.ok


def test_pruning_keeps_what_remains_verifiable(
    sealed: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It removes events past retention at a sealed boundary; the rest still verifies."""
    clock.advance(days=400)
    activity(sealed, person, 2)
    sealed.seal()
    result = sealed.prune_log()
    assert result.boundary == 24
    assert result.events_removed == 24
    sealed.seal()  # the prune itself is an event
    report = sealed.verify_log()
    assert report.ok, report.problems
    assert report.pruned_below == 24
    assert report.leaves_checked == report.size - 24
    witness = sealed.tree_heads()[:1]
    assert sealed.verify_log(witness=witness).ok


def test_pruning_refuses_to_touch_recent_events(sealed: Engine, clock: FakeClock) -> None:
    """It removes nothing younger than the retention."""
    clock.advance(days=200)
    assert sealed.prune_log().events_removed == 0


def test_log_retention_rises_to_two_years_for_large_installations(
    sealed: Engine, person: dict[str, str]
) -> None:
    """It keeps the log two years once the installation holds the threshold of subjects."""
    assert str(sealed.log_retention()) == "P1Y"
    sealed.settings.audit.large_installation_subjects = 3
    assert str(sealed.log_retention()) == "P2Y"


def test_concurrent_sealers_never_seal_twice(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It gives every event exactly one leaf when several sealers race."""
    activity(engine, person, 10)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(5):
                engine.seal()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine.seal_all()
    report = engine.verify_log()
    assert report.ok, report.problems
    assert report.size == len(engine.events(limit=1000))


def test_an_event_committed_late_is_still_sealed(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It seals an event whose transaction commits after a later event was sealed."""
    if database.backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: ids always commit in order")
    slow = database.engine.connect()
    transaction = slow.begin()
    record_event(slow, now=clock.now, actor="slow", actor_kind="staff", action="view")
    with engine.transaction() as connection:
        record_event(connection, now=clock.now, actor="fast", actor_kind="staff", action="view")
    assert engine.seal().sealed == 1  # only the committed one
    transaction.commit()
    slow.close()
    clock.advance(seconds=5)
    assert engine.seal().sealed == 1  # the straggler
    report = engine.verify_log()
    assert report.ok, report.problems
    assert report.size == 2


def test_a_backdated_event_below_the_first_leaf_is_detected(
    sealed: Engine, database: Database, clock: FakeClock
) -> None:
    """It flags an event inserted with an id below every leaf (inserts pass the triggers)."""
    with sealed.transaction() as connection:
        connection.execute(
            audit_events.insert().values(
                id=0,
                occurred_at=clock.now,
                actor="kim",
                actor_kind="staff",
                action="download",
                items="[]",
                outcome="allowed",
            )
        )
    # Once the watermark passes the sealed range (at once on SQLite; on PostgreSQL
    # after the margin, here zero), the stray event stands out.
    sealed.settings.audit.seal_margin_seconds = 0
    with sealed.transaction() as connection:
        record_event(connection, now=clock.now, actor="kim", actor_kind="staff", action="view")
    assert sealed.seal_all() == 1
    report = sealed.verify_log()
    assert not report.ok
    assert any("event 0" in problem for problem in report.problems)


def test_backdated_events_do_not_let_the_watermark_pass_an_open_transaction(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It still seals an event of an open transaction after backdated events were sealed."""
    if database.backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: ids always commit in order")
    slow = database.engine.connect()
    transaction = slow.begin()
    record_event(slow, now=clock.now, actor="slow", actor_kind="staff", action="view")
    with engine.transaction() as connection:
        # A sweep stamps its events with the sweep's start, which may be long ago.
        record_event(
            connection,
            now=clock.now - timedelta(minutes=10),
            actor="system",
            actor_kind="system",
            action="destroy",
        )
    engine.seal()
    transaction.commit()
    slow.close()
    assert engine.seal_all() == 1
    report = engine.verify_log()
    assert report.ok, report.problems


def forged_head(engine: Engine, clock: FakeClock, **fields: object) -> TreeHead:
    """A head signed with the log's real key (a stolen key, or a signing oracle)."""
    values: dict[str, object] = {
        "size": 6,
        "root": bytes(range(32)),
        "signed_at": clock.now,
        "prev_hash": bytes(32),
        "key_id": engine.signer.key_id,
        **fields,
    }
    return engine.signer.sign(TreeHead(**values))  # type: ignore[arg-type]


def test_a_validly_signed_witness_head_in_the_pruned_prefix_must_have_a_local_twin(
    sealed: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It refuses a forged head of a pruned size, signed with the key; real ones pass."""
    real = sealed.tree_heads()
    clock.advance(days=800)
    activity(sealed, person, 1)
    sealed.seal()
    assert sealed.prune_log().boundary > 16
    assert sealed.verify_log(witness=real).ok
    forged = forged_head(sealed, clock)
    assert sealed.signer.verify(forged)
    report = sealed.verify_log(witness=[*real, forged])
    assert not report.ok
    assert any("size 6 that this log lacks" in problem for problem in report.problems)
    # A pruned size the log does have, but another head of it: the kept head decides.
    twin = forged_head(sealed, clock, size=8, root=real[0].root)
    report = sealed.verify_log(witness=[twin])
    assert not report.ok
    assert any("size 8 differs" in problem for problem in report.problems)


def test_a_witness_head_must_match_its_local_twin_exactly(sealed: Engine, clock: FakeClock) -> None:
    """It refuses a signed head with a true root but no identical local head."""
    heads = sealed.tree_heads()
    other_time = forged_head(
        sealed, clock, size=16, root=heads[1].root, prev_hash=heads[0].digest()
    )
    report = sealed.verify_log(witness=[other_time])
    assert not report.ok
    assert any("size 16 differs" in problem for problem in report.problems)
    with sealed.database.connect() as connection:
        compact = CompactRange()
        for digest in connection.execute(
            select(audit_leaves.c.leaf_hash).order_by(audit_leaves.c.leaf_index).limit(12)
        ).scalars():
            compact.append(bytes(digest))
    unsigned_size = forged_head(sealed, clock, size=12, root=compact.root())
    report = sealed.verify_log(witness=[unsigned_size])
    assert not report.ok
    assert any("size 12 that this log lacks" in problem for problem in report.problems)


SPECIAL_ITEMS = {
    "a resident registration number": 'kind = "identifier"\nformat = "rrn"',
    "a passport number": 'kind = "identifier"\nformat = "passport"',
    "a driver's licence number": 'kind = "identifier"\nformat = "driver_license"',
    "a foreign registration number": 'kind = "identifier"\nformat = "foreign_rrn"',
    "a sensitive item": 'kind = "text"\nsensitive = true',
}


def engine_with_item(engine: Engine, declaration: str) -> Engine:
    """The same installation under a policy that also declares ``extra`` for service."""
    text = demo_policy_text().replace(
        "# Purposes:",
        f'[items.extra]\nlabel = {{ ko = "추가", en = "Extra" }}\n{declaration}\n\n# Purposes:',
    )
    text = text.replace(
        'consent = "required"\n\n[purposes.marketing]',
        'consent = "required"\noptional_items = ["extra"]\n\n[purposes.marketing]',
    )
    return Engine(
        database=engine.database,
        policy=parse_policy(text),
        keys=engine.keys,
        settings=engine.settings,
        clock=engine.clock,
        signer=engine.signer,
    )


@pytest.mark.parametrize("declaration", SPECIAL_ITEMS.values(), ids=SPECIAL_ITEMS.keys())
def test_unique_identifiers_and_sensitive_items_keep_the_log_two_years(
    engine: Engine, person: dict[str, str], clock: FakeClock, declaration: str
) -> None:
    """It keeps the log two years, with few subjects, once the policy declares such an item."""
    special = engine_with_item(engine, declaration)
    assert str(special.log_retention()) == "P2Y"
    activity(special, person, 2)
    special.seal()
    clock.advance(days=400)
    assert special.prune_log().events_removed == 0
    clock.advance(days=400)
    assert special.prune_log().events_removed == 4


def test_other_identifiers_leave_the_log_at_its_declared_retention(engine: Engine) -> None:
    """It keeps the policy's one year for identifiers that are not unique identifiers."""
    card = engine_with_item(engine, 'kind = "identifier"\nformat = "card"')
    assert str(card.log_retention()) == "P1Y"
