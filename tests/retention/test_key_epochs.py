"""Destroyed means unreadable in every copy: epoch keys, rotation, the backup window.

The guarantee tested here (docs/keys.md): data destroyed at T cannot be read from any
copy of the database, of any age, from T + W on (W = ``keys.backup_window``), with
every key the installation still holds; a copy taken after the destruction (once the
key job has rotated its epoch) restores every live collection, and a copy taken before
it restores every live collection of the other periods.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from haechi import Actor, ConsentEvidence, Engine
from haechi.crypto.epochs import Store, is_epoch_id, period_of
from haechi.crypto.keys import LocalKeyProvider
from haechi.engine import SYSTEM
from haechi.errors import HaechiError
from haechi.storage.key_tables import key_epochs
from haechi.storage.keyring import open_data_key
from haechi.storage.tables import audit_events, data_keys, items
from tests.conftest import PERSON, Database, FakeClock, open_keys
from tests.retention.copies import Copies

YES = ConsentEvidence(granted=True, method="web-form")
CRM = Actor(name="crm", kind="token", purposes=frozenset({"service", "marketing"}))
WINDOW = timedelta(days=30)  # the default keys.backup_window, P30D


@pytest.fixture
def copies(database: Database, tmp_path: Path) -> Copies:
    return Copies(database, tmp_path)


def _person(n: int) -> dict[str, str]:
    return {**PERSON, "email": f"person{n}@example.kr", "contact": f"010-2345-{6700 + n}"}


def _collect(engine: Engine, n: int, purpose: str) -> tuple[str, str]:
    result = engine.collect(purpose=purpose, items=_person(n), consent=YES, actor=SYSTEM)
    return result.subject_id, result.collection_id


def _readable(engine: Engine, subject_id: str, purpose: str) -> bool:
    try:
        values = engine.use(actor=CRM, subject_id=subject_id, purpose=purpose)
    except HaechiError:
        return False
    return values["name"] == PERSON["name"]


def _opens_any_item(engine: Engine, keys: LocalKeyProvider, collection_id: str) -> bool:
    """Whether any key the installation holds opens a data key of the collection in ``engine``."""
    with engine.database.connect() as connection:
        wrapped = connection.execute(
            select(data_keys.c.key_id, data_keys.c.wrapped).where(
                data_keys.c.collection_id == collection_id
            )
        ).all()
        sealed = connection.execute(
            select(func.count()).where(items.c.collection_id == collection_id)
        ).scalar_one()
    assert wrapped, "the old copy still holds the collection's wrapped key"
    assert sealed, "and its items"
    held = [epoch for epoch in keys_held(keys) if keys.has_epoch(epoch)]
    for row in wrapped:
        attempts = [row.key_id, *held]
        for key_id in attempts:
            try:
                open_data_key(
                    keys,
                    store=Store.MAIN,
                    key_id=key_id,
                    wrapped=bytes(row.wrapped),
                    collection_id=collection_id,
                )
            except HaechiError:
                continue
            return True
    return False


def keys_held(keys: LocalKeyProvider) -> list[str]:
    """Every epoch key file in the key directory."""
    directory = keys._directory  # the test looks at what the installation holds
    assert directory is not None
    return directory.ids()


def _run_keys(engine: Engine) -> None:
    report = engine.run_keys(actor=SYSTEM)
    assert not report.skipped


@pytest.mark.parametrize("how", ["withdrawal and sweep", "deletion"])
def test_a_copy_from_before_a_destruction_yields_nothing_of_it_after_the_window(
    engine: Engine,
    database: Database,
    clock: FakeClock,
    copies: Copies,
    tmp_path: Path,
    how: str,
) -> None:
    """It leaves the old copy unable to open the destroyed collection, and live data readable."""
    doomed_subject, doomed = _collect(engine, 1, "service")
    neighbour_subject, _ = _collect(engine, 2, "service")  # same deadline, same epoch
    other_subject, _ = _collect(engine, 3, "marketing")  # another period
    before = copies.take()

    if how == "deletion":
        engine.destroy(doomed, actor=SYSTEM)
    else:
        engine.withdraw_consent(doomed, actor=SYSTEM)
        assert engine.sweep().destroyed == 1
    _run_keys(engine)  # rotates the epoch: the neighbour's key moves to a new epoch key
    after = copies.take()
    with copies.opened(before, keys=open_keys(tmp_path), clock=clock) as old:
        # Within the window the old copy still opens it: the check below can see.
        assert _opens_any_item(old, open_keys(tmp_path), doomed)
    clock.advance(days=WINDOW.days + 1)
    _run_keys(engine)  # the old epoch key's window has passed: destroyed

    with database.engine.connect() as connection:
        records = (
            connection.execute(
                select(audit_events.c.reason).where(audit_events.c.action == "key_destroyed")
            )
            .scalars()
            .all()
        )
    assert len(records) == 1
    assert "backup window P30D" in records[0]

    keys = open_keys(tmp_path)  # everything the installation holds, read from its files
    with copies.opened(before, keys=keys, clock=clock) as old:
        assert not _opens_any_item(old, keys, doomed)
        assert not _readable(old, doomed_subject, "service")
        assert _readable(old, other_subject, "marketing")  # another period: restored
    with copies.opened(after, keys=keys, clock=clock) as later:
        assert _readable(later, neighbour_subject, "service")
        assert _readable(later, other_subject, "marketing")
    assert _readable(engine, neighbour_subject, "service")
    assert _readable(engine, other_subject, "marketing")


def test_before_the_window_has_passed_the_old_epoch_key_is_kept(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It keeps the rotated-away epoch key until the backup window has passed, then destroys it."""
    _, doomed = _collect(engine, 1, "service")
    _collect(engine, 2, "service")
    with database.engine.connect() as connection:
        [first] = connection.execute(select(key_epochs.c.id)).scalars().all()
    engine.destroy(doomed, actor=SYSTEM)
    _run_keys(engine)
    clock.advance(days=WINDOW.days - 1)
    _run_keys(engine)
    assert engine.keys.has_epoch(first)
    clock.advance(days=2)
    report = engine.run_keys(actor=SYSTEM)
    assert report.destroyed == [first]
    assert not engine.keys.has_epoch(first)


def test_keys_of_one_deadline_day_share_an_epoch_and_other_days_do_not(
    engine: Engine, database: Database, clock: FakeClock
) -> None:
    """It wraps each data key under the epoch of its collection's destruction deadline."""
    _, service_one = _collect(engine, 1, "service")
    _, service_two = _collect(engine, 2, "service")
    _, marketing = _collect(engine, 3, "marketing")
    with database.engine.connect() as connection:
        wrapping = dict(
            connection.execute(select(data_keys.c.collection_id, data_keys.c.key_id)).all()
        )
        periods = connection.execute(select(key_epochs.c.period_start)).scalars().all()
    assert all(is_epoch_id(key_id) for key_id in wrapping.values())
    assert wrapping[service_one] == wrapping[service_two] != wrapping[marketing]
    year_on = engine.collection(service_one, actor=SYSTEM).expires_at
    assert period_of(year_on)[0] in periods
    assert len(periods) == 2


def test_data_keys_from_before_epochs_are_moved_under_epochs(
    engine: Engine, database: Database, keys: LocalKeyProvider, clock: FakeClock
) -> None:
    """It re-wraps master-wrapped data keys (an upgraded installation's) under epochs, readable."""
    from tests.retention.conftest import seed

    ids = seed(database.engine, keys, count=5, due=clock.now + timedelta(days=40))
    assert engine.key_status(actor=SYSTEM).legacy_data_keys == 5
    report = engine.run_keys(actor=SYSTEM)
    assert report.upgraded == 5
    with database.engine.connect() as connection:
        key_ids = (
            connection.execute(select(data_keys.c.key_id).where(data_keys.c.collection_id.in_(ids)))
            .scalars()
            .all()
        )
    assert len(key_ids) == 5
    assert all(is_epoch_id(key_id) for key_id in key_ids)
    assert engine.key_status(actor=SYSTEM).legacy_data_keys == 0


def test_the_same_holds_after_a_master_key_rotation(
    engine: Engine,
    database: Database,
    clock: FakeClock,
    copies: Copies,
    tmp_path: Path,
) -> None:
    """It destroys the old master after the window; copies behave as without the rotation."""
    _, doomed = _collect(engine, 1, "service")
    neighbour_subject, _ = _collect(engine, 2, "service")
    other_subject, _ = _collect(engine, 3, "marketing")
    before = copies.take()
    old_master = engine.keys.key_id

    rotation = engine.rotate_master(actor=SYSTEM)
    assert rotation.old_key_id == old_master != rotation.new_key_id == engine.keys.key_id
    _run_keys(engine)
    engine.destroy(doomed, actor=SYSTEM)
    _run_keys(engine)
    after = copies.take()
    clock.advance(days=WINDOW.days + 1)
    report = engine.run_keys(actor=SYSTEM)
    assert old_master in report.destroyed

    keys = open_keys(tmp_path)  # a restart: only what the files hold
    assert keys.masters_held() == [rotation.new_key_id]
    assert not list((tmp_path / "keyring").glob("master.key.retired-*"))
    assert keys.stored_under(old_master) == 0
    with copies.opened(before, keys=keys, clock=clock) as old:
        assert not _opens_any_item(old, keys, doomed)
        assert _readable(old, other_subject, "marketing")
    with copies.opened(after, keys=keys, clock=clock) as later:
        assert _readable(later, neighbour_subject, "service")
        assert _readable(later, other_subject, "marketing")
    restarted = Engine(database=database.engine, policy=engine.policy, keys=keys, clock=clock)
    assert _readable(restarted, neighbour_subject, "service")
    # Derived keys (the blind index) outlive the master they came from.
    assert restarted.find_subject(kind="email", value="person2@example.kr", actor=CRM) == (
        neighbour_subject
    )


@pytest.mark.parametrize("then", ["retired", "destroyed"])
def test_a_collection_after_a_rotation_is_wrapped_under_the_periods_new_key(
    engine: Engine, database: Database, then: str
) -> None:
    """It never wraps under a retired (or destroyed) epoch key it remembered from before."""
    _, doomed = _collect(engine, 1, "service")
    neighbour_subject, _ = _collect(engine, 2, "service")  # remembered: the same epoch
    engine.destroy(doomed, actor=SYSTEM)
    _run_keys(engine)  # retires that epoch key, moves the neighbour's key to a new one
    if then == "destroyed":
        # As the key job does once the window has passed (here at once: a job that
        # had not run for that long retires and destroys in one run).
        with database.engine.connect() as connection:
            [retired] = connection.execute(
                select(key_epochs.c.id).where(key_epochs.c.retired_at.is_not(None))
            ).scalars()
        engine.keys.destroy_epoch(retired)
    later_subject, later = _collect(engine, 3, "service")  # a deadline in the same period
    with database.engine.connect() as connection:
        current = dict(
            connection.execute(
                select(key_epochs.c.id, key_epochs.c.retired_at).where(
                    key_epochs.c.store == Store.MAIN.value
                )
            ).all()
        )
        [wrapping] = (
            connection.execute(select(data_keys.c.key_id).where(data_keys.c.collection_id == later))
            .scalars()
            .all()
        )
    assert len(current) == 2
    assert current[wrapping] is None  # the period's current key, not the retired one
    assert _readable(engine, later_subject, "service")
    assert _readable(engine, neighbour_subject, "service")
