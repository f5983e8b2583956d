"""One-click opt-out links: minted for a granted purpose, sealed, expiring, idempotent."""

from __future__ import annotations

import pytest

from haechi import Engine
from haechi.access.decision import Actor
from haechi.engine import SYSTEM
from haechi.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tests.conftest import FakeClock
from tests.rights.support import collect, refused_use

MAILER = Actor(name="newsletter", kind="token", purposes=frozenset({"marketing"}))


def test_a_link_hides_the_subject_and_withdraws_once(
    engine: Engine, person: dict[str, str]
) -> None:
    """It seals the subject id; following it withdraws, following it again changes nothing."""
    subject_id = collect(engine, person, "marketing")
    token = engine.optout_link(subject_id, purpose="marketing", actor=MAILER)
    assert subject_id not in token
    assert subject_id.replace("-", "") not in token
    assert engine.optout_preview(token).purpose == "marketing"
    first = engine.optout(token, source_ip="198.51.100.7")
    assert (first.purpose, first.withdrawn) == ("marketing", 1)
    assert refused_use(engine, subject_id, "marketing") == "NO_CONSENT"
    assert engine.optout(token, source_ip="198.51.100.7").withdrawn == 0
    events = [
        (event.action, event.outcome, event.code, event.source_ip)
        for event in engine.events(subject_id=subject_id, limit=20)
    ]
    assert ("withdraw_consent", "allowed", None, "198.51.100.7") in events
    assert ("withdraw_consent", "allowed", "ALREADY_WITHDRAWN", "198.51.100.7") in events
    assert ("optout_link", "allowed", None, None) in events


def test_only_an_actor_granted_the_purpose_mints_and_the_refusal_is_recorded(
    engine: Engine, person: dict[str, str]
) -> None:
    """It refuses a token of another purpose and an auditor, and logs both refusals."""
    subject_id = collect(engine, person, "marketing")
    other = Actor(name="shop", kind="token", purposes=frozenset({"service"}))
    auditor = Actor(
        name="kim", kind="staff", purposes=frozenset(), role="auditor", all_purposes=True
    )
    for actor in (other, auditor):
        with pytest.raises(PermissionDenied):
            engine.optout_link(subject_id, purpose="marketing", actor=actor)
    denied = [event for event in engine.events(limit=10) if event.action == "optout_link"]
    assert [event.outcome for event in denied] == ["denied", "denied"]


def test_a_link_is_only_for_a_live_collection_of_a_consent_purpose(
    engine: Engine, person: dict[str, str]
) -> None:
    """It refuses an undeclared purpose, a bad validity, and a subject without the purpose."""
    subject_id = collect(engine, person, "service")
    with pytest.raises(InvalidInput):
        engine.optout_link(subject_id, purpose="nothing", actor=MAILER)
    with pytest.raises(InvalidInput):
        engine.optout_link(subject_id, purpose="marketing", valid_days=0, actor=MAILER)
    with pytest.raises(NotFound):
        engine.optout_link(subject_id, purpose="marketing", actor=MAILER)


@pytest.mark.parametrize(
    "forged", ["", "A" * 120, "not base64!", "A" * 401, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]
)
def test_a_forged_or_altered_link_is_refused_and_recorded(
    engine: Engine, person: dict[str, str], forged: str
) -> None:
    """It refuses any token it did not mint, unread, and records the refusal."""
    with pytest.raises(InvalidInput) as refused:
        engine.optout(forged, source_ip=None)
    assert refused.value.code == "LINK_INVALID"
    assert engine.events(limit=1)[0].code == "LINK_INVALID"


def test_an_altered_byte_breaks_the_seal(engine: Engine, person: dict[str, str]) -> None:
    """It refuses a minted token with one character changed."""
    subject_id = collect(engine, person, "marketing")
    token = engine.optout_link(subject_id, purpose="marketing", actor=MAILER)
    altered = token[:20] + ("B" if token[20] != "B" else "C") + token[21:]
    with pytest.raises(InvalidInput):
        engine.optout(altered, source_ip=None)
    engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name"])


def test_an_expired_link_is_refused_and_consent_stays(
    engine: Engine, person: dict[str, str], clock: FakeClock
) -> None:
    """It refuses a link past its validity; the consent it names is untouched."""
    subject_id = collect(engine, person, "marketing")
    token = engine.optout_link(subject_id, purpose="marketing", valid_days=2, actor=MAILER)
    clock.advance(days=2, seconds=1)
    with pytest.raises(Conflict) as refused:
        engine.optout(token, source_ip=None)
    assert refused.value.code == "LINK_EXPIRED"
    event = engine.events(subject_id=subject_id, limit=1)[0]
    assert (event.action, event.outcome, event.code) == (
        "withdraw_consent",
        "denied",
        "LINK_EXPIRED",
    )
    engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name"])
