"""Staff logins and sessions: lockout and unlock, TOTP, idle timeout, immediate revocation."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from haechi import Engine, PermissionDenied
from haechi.access.decision import Actor
from haechi.access.staff import NewCredentials
from haechi.engine import SYSTEM
from haechi.storage.tables import audit_events, staff
from haechi.subjects.service import ConsentEvidence
from tests.access.staff_helpers import NEW_PASSWORD, REMOTE, TRUSTED, add_and_login
from tests.conftest import FakeClock


def codes(error: pytest.ExceptionInfo[PermissionDenied]) -> str:
    return error.value.code


def totp_now(credentials: NewCredentials, clock: FakeClock, seconds: float = 0) -> str:
    assert credentials.totp_uri is not None
    secret = pyotp.parse_uri(credentials.totp_uri).secret
    clock.advance(seconds=seconds)
    return pyotp.TOTP(secret).at(clock.now)


def login_events(engine: Engine) -> list[tuple[str, str | None]]:
    return [(e.outcome, e.code) for e in reversed(engine.events()) if e.action == "login"]


def test_a_one_time_password_only_allows_changing_it(engine: Engine) -> None:
    """It serves a one-time-password session nothing but the password change."""
    credentials = engine.add_staff(
        username="kim", role="handler", purposes=["service"], actor=SYSTEM
    )
    session = engine.login(username="kim", password=credentials.password, source_ip=TRUSTED)
    assert session.must_change_password
    assert session.secret is not None
    with pytest.raises(PermissionDenied) as refused:
        engine.authenticate(session.secret)
    assert codes(refused) == "PASSWORD_CHANGE_REQUIRED"
    actor = engine.authenticate(session.secret, password_change=True)
    with pytest.raises(Exception, match="password needs at least") as weak:
        engine.change_password(
            actor=actor, current_password=credentials.password, new_password="short"
        )
    assert "short" not in str(weak.value)
    engine.change_password(
        actor=actor,
        current_password=credentials.password,
        new_password=NEW_PASSWORD,
        session_secret=session.secret,
    )
    assert engine.authenticate(session.secret).purposes == frozenset({"service"})


def test_a_changed_password_ends_the_accounts_other_sessions(engine: Engine) -> None:
    """It ends every other session of the account when its password changes."""
    add_and_login(engine, "kim", "handler", "service")
    here = engine.login(username="kim", password=NEW_PASSWORD, source_ip=TRUSTED).secret
    elsewhere = engine.login(username="kim", password=NEW_PASSWORD, source_ip=TRUSTED).secret
    assert here is not None
    assert elsewhere is not None
    engine.change_password(
        actor=engine.authenticate(here),
        current_password=NEW_PASSWORD,
        new_password="another long password",
        session_secret=here,
    )
    assert engine.authenticate(here).name == "kim"
    with pytest.raises(PermissionDenied) as ended:
        engine.authenticate(elsewhere)
    assert codes(ended) == "INVALID_TOKEN"


def test_guessing_the_current_password_counts_toward_the_lockout(engine: Engine) -> None:
    """It counts a wrong current password as a failed login, locks, and ends the session."""
    secret, _ = add_and_login(engine, "kim", "handler", "service")
    threshold = engine.settings.auth.lockout_threshold
    for _ in range(threshold):
        with pytest.raises(PermissionDenied) as wrong:
            engine.change_password(
                actor=engine.authenticate(secret),
                current_password="a guess",
                new_password="another long password",
                session_secret=secret,
            )
        assert codes(wrong) == "WRONG_PASSWORD"
    [account] = [a for a in engine.staff(actor=SYSTEM) if a.username == "kim"]
    assert account.locked
    with pytest.raises(PermissionDenied) as ended:
        engine.authenticate(secret)
    assert codes(ended) == "INVALID_TOKEN"
    with pytest.raises(PermissionDenied) as locked:
        engine.login(username="kim", password=NEW_PASSWORD, source_ip=TRUSTED)
    assert codes(locked) == "LOCKED"


def test_lockout_after_failures_until_the_officer_unlocks(engine: Engine) -> None:
    """It locks after the threshold of failures, refuses even the right password, and unlocks.

    Only the right password is told of the lock: the failure that locks it, and any
    wrong password after, answer as every wrong password does (no account oracle).
    """
    add_and_login(engine, "kim", "handler", "service")
    for _ in range(5):
        with pytest.raises(PermissionDenied) as wrong:
            engine.login(username="kim", password="guess", source_ip=TRUSTED)
        assert codes(wrong) == "BAD_PASSWORD"
        assert "lock" not in str(wrong.value)
    [account] = [a for a in engine.staff(actor=SYSTEM) if a.username == "kim"]
    assert account.locked
    with pytest.raises(PermissionDenied) as still_wrong:
        engine.login(username="kim", password="guess", source_ip=TRUSTED)
    assert codes(still_wrong) == "BAD_PASSWORD"
    with pytest.raises(PermissionDenied) as nobody:
        engine.login(username="nobody", password="guess", source_ip=TRUSTED)
    assert str(nobody.value) == str(still_wrong.value)
    with pytest.raises(PermissionDenied) as right:
        engine.login(username="kim", password=NEW_PASSWORD, source_ip=TRUSTED)
    assert codes(right) == "LOCKED"
    assert login_events(engine)[-8:-2] == [("denied", "BAD_PASSWORD")] * 6
    assert login_events(engine)[-1] == ("denied", "LOCKED")

    handler = Actor(name="lee", kind="staff", purposes=frozenset(), role="handler")
    with pytest.raises(PermissionDenied) as not_officer:
        engine.unlock_staff("kim", actor=handler)
    assert codes(not_officer) == "ROLE_REQUIRED"
    engine.unlock_staff("kim", reason="called the officer", actor=SYSTEM)
    assert engine.login(username="kim", password=NEW_PASSWORD, source_ip=TRUSTED).secret
    actions = [e.action for e in engine.events()]
    assert "staff_unlock" in actions


def test_the_lockout_threshold_is_a_setting(engine: Engine) -> None:
    """It locks after ``auth.lockout_threshold`` failures."""
    engine.settings.auth.lockout_threshold = 2
    add_and_login(engine, "kim", "handler")
    with pytest.raises(PermissionDenied):
        engine.login(username="kim", password="guess", source_ip=TRUSTED)
    with pytest.raises(PermissionDenied) as second:
        engine.login(username="kim", password="guess", source_ip=TRUSTED)
    assert codes(second) == "BAD_PASSWORD"
    with pytest.raises(PermissionDenied) as right:
        engine.login(username="kim", password=NEW_PASSWORD, source_ip=TRUSTED)
    assert codes(right) == "LOCKED"


def test_a_success_resets_the_failure_count(engine: Engine) -> None:
    """It counts consecutive failures only."""
    add_and_login(engine, "kim", "handler")
    for _ in range(3):
        with pytest.raises(PermissionDenied):
            engine.login(username="kim", password="guess", source_ip=TRUSTED)
        engine.login(username="kim", password=NEW_PASSWORD, source_ip=TRUSTED)
    [account] = [a for a in engine.staff(actor=SYSTEM) if a.username == "kim"]
    assert (account.locked, account.failed_logins) == (False, 0)


def test_unknown_users_get_the_same_answer_as_wrong_passwords(engine: Engine) -> None:
    """It does not tell an unknown username from a wrong password."""
    with pytest.raises(PermissionDenied) as unknown:
        engine.login(username="nobody", password="guess", source_ip=TRUSTED)
    add_and_login(engine, "kim", "handler")
    with pytest.raises(PermissionDenied) as wrong:
        engine.login(username="kim", password="guess", source_ip=TRUSTED)
    assert (unknown.value.code, unknown.value.message) == (wrong.value.code, wrong.value.message)


def test_totp_is_required_from_outside_the_trusted_networks(
    engine: Engine, clock: FakeClock
) -> None:
    """It asks a remote login for a TOTP code, accepts a valid one once, and refuses replays."""
    _, credentials = add_and_login(engine, "kim", "handler", "service")
    with pytest.raises(PermissionDenied) as missing:
        engine.login(username="kim", password=NEW_PASSWORD, source_ip=REMOTE)
    assert codes(missing) == "TOTP_REQUIRED"
    with pytest.raises(PermissionDenied) as wrong:
        engine.login(username="kim", password=NEW_PASSWORD, totp="000000", source_ip=REMOTE)
    assert codes(wrong) == "BAD_PASSWORD"  # answered as a wrong password; logged as it was
    code = totp_now(credentials, clock)
    session = engine.login(username="kim", password=NEW_PASSWORD, totp=code, source_ip=REMOTE)
    assert session.secret is not None
    with pytest.raises(PermissionDenied) as replay:
        engine.login(username="kim", password=NEW_PASSWORD, totp=code, source_ip=REMOTE)
    assert codes(replay) == "BAD_PASSWORD"
    later = totp_now(credentials, clock, seconds=30)
    assert engine.login(username="kim", password=NEW_PASSWORD, totp=later, source_ip=REMOTE)
    assert login_events(engine)[-5:] == [
        ("denied", "TOTP_REQUIRED"),
        ("denied", "BAD_TOTP"),
        ("allowed", None),
        ("denied", "BAD_TOTP"),
        ("allowed", None),
    ]


def test_a_remote_refusal_never_tells_whether_the_password_was_right(engine: Engine) -> None:
    """It answers a remote login the same for a right password, a wrong one and no account.

    Without a code, all three are asked for one; with a wrong code, a wrong password and
    a wrong code get one answer. Only the log says which it was.
    """
    add_and_login(engine, "kim", "handler", "service")

    def answer(username: str, password: str, totp: str | None) -> tuple[str, str]:
        with pytest.raises(PermissionDenied) as refused:
            engine.login(username=username, password=password, totp=totp, source_ip=REMOTE)
        return refused.value.code, refused.value.message

    for totp in (None, "000000"):
        answers = {
            answer("kim", NEW_PASSWORD, totp),
            answer("kim", "a wrong password", totp),
            answer("nobody", "a wrong password", totp),
        }
        assert len(answers) == 1, answers
        [(code, _)] = answers
        assert code == ("TOTP_REQUIRED" if totp is None else "BAD_PASSWORD")
    logged = [code for _, code in login_events(engine)[-6:]]
    assert logged == [
        "TOTP_REQUIRED",
        "BAD_PASSWORD",
        "BAD_PASSWORD",
        "BAD_TOTP",
        "BAD_PASSWORD",
        "BAD_PASSWORD",
    ]


def test_trusted_networks_are_a_setting(engine: Engine) -> None:
    """It lets a password alone through from a network the settings trust."""
    add_and_login(engine, "kim", "handler")
    engine.settings.auth.trusted_networks = ["203.0.113.0/24"]
    assert engine.login(username="kim", password=NEW_PASSWORD, source_ip=REMOTE).secret
    with pytest.raises(PermissionDenied) as local:
        engine.login(username="kim", password=NEW_PASSWORD, source_ip=TRUSTED)
    assert codes(local) == "TOTP_REQUIRED"


def test_the_totp_secret_is_sealed(engine: Engine) -> None:
    """It stores no TOTP secret in plaintext."""
    credentials = engine.add_staff(username="kim", role="auditor", actor=SYSTEM)
    assert credentials.totp_uri is not None
    secret = pyotp.parse_uri(credentials.totp_uri).secret
    with engine.transaction() as connection:
        sealed = connection.execute(select(staff.c.totp_sealed)).scalar_one()
    assert secret.encode() not in sealed


def test_idle_sessions_expire(engine: Engine, clock: FakeClock) -> None:
    """It ends a session idle for the timeout, and records it; activity keeps it alive."""
    secret, _ = add_and_login(engine, "kim", "handler", "service")
    clock.advance(minutes=29)
    engine.authenticate(secret)
    clock.advance(minutes=29)
    engine.authenticate(secret)
    clock.advance(minutes=30)
    with pytest.raises(PermissionDenied) as expired:
        engine.authenticate(secret)
    assert codes(expired) == "SESSION_EXPIRED"
    with pytest.raises(PermissionDenied) as after:
        engine.authenticate(secret)
    assert codes(after) == "INVALID_TOKEN"
    event = engine.events(limit=1)[0]
    assert (event.action, event.actor, event.actor_kind) == ("session_expired", "kim", "staff")


def test_logout_ends_the_session(engine: Engine) -> None:
    """It refuses a session after logout and records the logout."""
    secret, _ = add_and_login(engine, "kim", "auditor")
    engine.logout(secret)
    with pytest.raises(PermissionDenied) as ended:
        engine.authenticate(secret)
    assert codes(ended) == "INVALID_TOKEN"
    assert engine.events(limit=1)[0].action == "logout"


def test_revocation_bites_on_the_very_next_call(engine: Engine, person: dict[str, str]) -> None:
    """It refuses a revoked grant on the session's next use, and a closed account at once."""
    secret, _ = add_and_login(engine, "kim", "handler", "service", "complaints")
    subject_id = engine.collect(
        purpose="service",
        items=person,
        consent=ConsentEvidence(granted=True, method="paper"),
        actor=SYSTEM,
    ).subject_id
    actor = engine.authenticate(secret)
    assert engine.use(actor=actor, subject_id=subject_id, purpose="service")
    engine.revoke_staff("kim", purposes=["service"], reason="moved to complaints", actor=SYSTEM)
    actor = engine.authenticate(secret)
    with pytest.raises(PermissionDenied) as refused:
        engine.use(actor=actor, subject_id=subject_id, purpose="service")
    assert codes(refused) == "NO_GRANT"
    engine.disable_staff("kim", reason="left the company", actor=SYSTEM)
    with pytest.raises(PermissionDenied) as closed:
        engine.authenticate(secret)
    assert codes(closed) == "INVALID_TOKEN"
    with pytest.raises(PermissionDenied) as login:
        engine.login(username="kim", password=NEW_PASSWORD, source_ip=TRUSTED)
    assert codes(login) == "BAD_PASSWORD"


def test_roles_resolve_to_purposes(engine: Engine) -> None:
    """It gives the officer every purpose, a handler its grants, auditors and admins none."""
    officer, _ = add_and_login(engine, "park", "privacy_officer")
    handler, _ = add_and_login(engine, "kim", "handler", "service")
    auditor, _ = add_and_login(engine, "choi", "auditor")
    admin, _ = add_and_login(engine, "jung", "admin")
    assert engine.authenticate(officer).may_serve("marketing")
    assert engine.authenticate(handler).purposes == frozenset({"service"})
    for secret in (auditor, admin):
        actor = engine.authenticate(secret)
        assert not actor.may_serve("service")
        assert actor.kind == "staff"


def test_a_reset_ends_sessions_and_needs_a_new_password(engine: Engine) -> None:
    """It ends the account's sessions and issues a one-time password (and TOTP if asked)."""
    secret, first = add_and_login(engine, "kim", "handler")
    reset = engine.reset_staff_password("kim", new_totp=True, reason="lost phone", actor=SYSTEM)
    assert reset.totp_uri is not None
    assert reset.totp_uri != first.totp_uri
    with pytest.raises(PermissionDenied):
        engine.authenticate(secret)
    session = engine.login(username="kim", password=reset.password, source_ip=TRUSTED)
    assert session.must_change_password
    assert [e.action for e in engine.events(limit=2)] == ["login", "staff_password_reset"]


def test_an_unknown_username_is_never_logged_nor_echoed(engine: Engine) -> None:
    """It logs a login to no account as ``<unknown>``: people type passwords there."""
    add_and_login(engine, "kim", "handler", "service")
    with pytest.raises(PermissionDenied) as refused:
        engine.login(username="hunter2-secret", password="whatever-it-is", source_ip=TRUSTED)
    assert "hunter2" not in str(refused.value)
    event = engine.events(limit=1)[0]
    assert (event.action, event.outcome, event.actor) == ("login", "denied", "<unknown>")
    with engine.database.connect() as connection:
        rows = connection.execute(select(audit_events)).all()
    assert not any("hunter2" in str(value) for row in rows for value in row)
