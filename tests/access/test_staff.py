"""Staff accounts, roles and grants: who may change access, and the history it leaves."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from haechi import Conflict, Engine, InvalidInput, NotFound, PermissionDenied
from haechi.access import grants, roles, staff
from haechi.access.decision import Actor
from haechi.engine import SYSTEM
from haechi.storage.tables import staff_grant_history
from tests.conftest import FakeClock


def staff_actor(name: str, role: str) -> Actor:
    return Actor(name=name, kind="staff", purposes=frozenset(), id=None, role=role)


OFFICER = staff_actor("park", "privacy_officer")
ADMIN = staff_actor("jung", "admin")
AUDITOR = staff_actor("choi", "auditor")


def history(engine: Engine, username: str | None = None) -> list[tuple[str, str | None, str]]:
    return [
        (change.change, change.purpose or change.role, change.changed_by)
        for change in engine.grant_history(username=username, actor=SYSTEM)
    ]


def test_grant_history_records_who_when_and_why(engine: Engine, clock: FakeClock) -> None:
    """It appends one row per creation, grant, role change and revocation, with its reason."""
    engine.add_staff(username="kim", role="handler", purposes=["service"], actor=OFFICER)
    clock.advance(days=1)
    assert engine.grant_staff(
        "kim", purposes=["complaints", "service"], reason="covers the helpdesk", actor=OFFICER
    ) == ["complaints"]
    clock.advance(days=1)
    engine.revoke_staff("kim", purposes=["service"], reason="left sales", actor=ADMIN)
    engine.change_staff_role("kim", role="auditor", reason="joined audit", actor=OFFICER)
    assert history(engine, "kim") == [
        ("create", "handler", "park"),
        ("grant", "service", "park"),
        ("grant", "complaints", "park"),
        ("revoke", "service", "jung"),
        ("revoke", "complaints", "park"),
        ("role", "auditor", "park"),
    ]
    changes = engine.grant_history(username="kim", actor=SYSTEM)
    assert changes[2].reason == "covers the helpdesk"
    assert changes[3].occurred_at == clock.now
    assert [a.purposes for a in engine.staff(actor=SYSTEM) if a.username == "kim"] == [[]]
    actions = [e.action for e in reversed(engine.events())]
    assert actions == [
        "staff_create",
        "staff_grant",
        "staff_grant",
        "staff_revoke",
        "staff_revoke",
        "staff_role_change",
    ]


def test_grant_history_is_append_only(engine: Engine) -> None:
    """It is refused UPDATE and DELETE by the database itself, so it outlives its accounts."""
    engine.add_staff(username="kim", role="handler", purposes=["service"], actor=SYSTEM)
    engine.disable_staff("kim", reason="left the company", actor=SYSTEM)
    for statement in (
        update(staff_grant_history).values(reason="nothing to see"),
        delete(staff_grant_history),
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.transaction() as connection:
            connection.execute(statement)
    assert [change for change, _, _ in history(engine, "kim")] == [
        "create",
        "grant",
        "revoke",
        "disable",
    ]


def test_only_the_privacy_officer_widens_access(engine: Engine) -> None:
    """It refuses creation, grants, role changes and resets to admins and auditors, and logs it."""
    engine.add_staff(username="kim", role="handler", actor=OFFICER)
    attempts = [
        lambda actor: engine.add_staff(username="lee", role="handler", actor=actor),
        lambda actor: engine.grant_staff("kim", purposes=["service"], reason="x", actor=actor),
        lambda actor: engine.change_staff_role("kim", role="admin", reason="x", actor=actor),
        lambda actor: engine.reset_staff_password("kim", actor=actor),
        lambda actor: engine.unlock_staff("kim", actor=actor),
    ]
    for actor in (ADMIN, AUDITOR):
        for attempt in attempts:
            with pytest.raises(PermissionDenied) as refused:
                attempt(actor)
            assert refused.value.code == "ROLE_REQUIRED"
    denied = [e for e in engine.events() if e.outcome == "denied"]
    assert len(denied) == 10
    assert {e.code for e in denied} == {"ROLE_REQUIRED"}
    with pytest.raises(PermissionDenied):
        engine.revoke_staff("kim", purposes=["service"], reason="x", actor=AUDITOR)
    token = Actor(name="token:crm", kind="token", purposes=frozenset({"service"}))
    with pytest.raises(PermissionDenied):
        engine.staff(actor=token)
    assert [a.username for a in engine.staff(actor=AUDITOR)] == ["kim"]


def test_only_handlers_hold_purpose_grants(engine: Engine) -> None:
    """It refuses purpose grants for officers, auditors and admins, and undeclared purposes."""
    with pytest.raises(InvalidInput) as on_create:
        engine.add_staff(username="choi", role="auditor", purposes=["service"], actor=SYSTEM)
    assert on_create.value.field == "purposes"
    engine.add_staff(username="choi", role="auditor", actor=SYSTEM)
    with pytest.raises(Conflict):
        engine.grant_staff("choi", purposes=["service"], reason="x", actor=SYSTEM)
    engine.add_staff(username="kim", role="handler", actor=SYSTEM)
    with pytest.raises(InvalidInput) as undeclared:
        engine.grant_staff("kim", purposes=["lottery"], reason="x", actor=SYSTEM)
    # The undeclared name is the caller's text: the error names the field, not the text.
    assert undeclared.value.field == "purposes"
    assert "lottery" not in str(undeclared.value)
    with pytest.raises(InvalidInput) as no_reason:
        engine.grant_staff("kim", purposes=["service"], reason="  ", actor=SYSTEM)
    assert no_reason.value.field == "reason"
    with pytest.raises(NotFound):
        engine.revoke_staff("kim", purposes=["service"], reason="x", actor=SYSTEM)
    with pytest.raises(InvalidInput) as role:
        engine.add_staff(username="lee", role="root", actor=SYSTEM)
    assert role.value.field == "role"


def test_one_account_per_person(engine: Engine) -> None:
    """It refuses a second account of the same name and malformed names."""
    engine.add_staff(username="kim", role="handler", actor=SYSTEM)
    with pytest.raises(Conflict):
        engine.add_staff(username="kim", role="auditor", actor=SYSTEM)
    with pytest.raises(InvalidInput) as bad:
        engine.add_staff(username="kim@example.kr", role="auditor", actor=SYSTEM)
    assert bad.value.field == "username"


def test_the_last_privacy_officer_stays(engine: Engine) -> None:
    """It refuses to demote or close the only privacy officer, not one of two."""
    engine.add_staff(username="park", role="privacy_officer", actor=SYSTEM)
    with pytest.raises(Conflict):
        engine.change_staff_role("park", role="handler", reason="x", actor=SYSTEM)
    with pytest.raises(Conflict):
        engine.disable_staff("park", reason="x", actor=SYSTEM)
    engine.add_staff(username="han", role="privacy_officer", actor=SYSTEM)
    engine.change_staff_role("park", role="auditor", reason="rotation", actor=SYSTEM)
    assert {a.username: a.role for a in engine.staff(actor=SYSTEM)} == {
        "han": "privacy_officer",
        "park": "auditor",
    }


def test_a_closed_account_cannot_be_changed(engine: Engine) -> None:
    """It refuses grants, unlocks and resets on a closed account."""
    engine.add_staff(username="kim", role="handler", actor=SYSTEM)
    engine.disable_staff("kim", reason="left", actor=SYSTEM)
    with pytest.raises(Conflict):
        engine.grant_staff("kim", purposes=["service"], reason="x", actor=SYSTEM)
    with pytest.raises(Conflict):
        engine.reset_staff_password("kim", actor=SYSTEM)
    [account] = engine.staff(actor=SYSTEM)
    assert account.disabled_at is not None


def test_unlocking_an_unlocked_account_is_a_conflict(engine: Engine) -> None:
    """It says so instead of recording an unlock that changed nothing."""
    engine.add_staff(username="kim", role="handler", actor=SYSTEM)
    with pytest.raises(Conflict):
        engine.unlock_staff("kim", actor=SYSTEM)


def test_no_secret_reaches_the_log(engine: Engine) -> None:
    """It keeps one-time passwords and TOTP secrets out of events and history."""
    credentials = engine.add_staff(
        username="kim", role="handler", purposes=["service"], actor=SYSTEM
    )
    reset = engine.reset_staff_password("kim", new_totp=True, actor=SYSTEM)
    with engine.transaction() as connection:
        dump = " ".join(
            str(row)
            for table in ("audit_events", "staff_grant_history", "staff")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
        )
    for secret in (credentials.password, reset.password, credentials.totp_uri, reset.totp_uri):
        assert secret is not None
        assert secret not in dump


def test_the_staff_modules_are_small_and_keep_their_names() -> None:
    """It splits accounts, roles and grants into modules under 400 lines, one name each place."""
    for module in (staff, grants, roles):
        assert module.__file__ is not None
        lines = Path(module.__file__).read_text(encoding="utf-8").count("\n")
        assert lines < 400, module.__name__
    # The names callers import from haechi.access.staff are the very same objects.
    assert staff.Role is roles.Role
    assert staff.require_role is roles.require_role
    assert staff.grant_purposes is grants.grant_purposes
    assert staff.revoke_purposes is grants.revoke_purposes
    assert staff.grant_history is grants.grant_history
    assert staff.GrantChange is grants.GrantChange
    assert set(staff.__all__) <= set(dir(staff))
