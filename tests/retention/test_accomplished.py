"""Ended collections: refused from the moment they end, for the cause that ended them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from haechi import AccessDenied, Actor, Conflict, ConsentEvidence, Engine
from haechi.access.decision import CollectionState, CollectionView, Reason, decide
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from tests.conftest import FakeClock

YES = ConsentEvidence(granted=True, method="web-form")
OFFICER = Actor(name="officer", kind="token", purposes=frozenset({"service", "complaints"}))
POLICY = parse_policy(demo_policy_text()).policy
NOW = datetime(2026, 6, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


def refusal(engine: Engine, subject_id: str, purpose: str) -> tuple[str, int | None]:
    with pytest.raises(AccessDenied) as caught:
        engine.use(actor=OFFICER, subject_id=subject_id, purpose=purpose)
    return caught.value.code, caught.value.audit_event_id


def test_accomplished_data_is_refused_at_once_and_shows_it_is_due(
    engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It refuses use with ACCOMPLISHED (logged) and shows when the purpose ended."""
    result = engine.collect(purpose="service", items=person, consent=YES, actor=SYSTEM)
    engine.mark_accomplished(result.collection_id, actor=OFFICER)
    code, event_id = refusal(engine, result.subject_id, "service")
    assert code == "ACCOMPLISHED"
    [event] = [e for e in engine.events() if e.id == event_id]
    assert (event.action, event.outcome, event.code) == ("view", "denied", "ACCOMPLISHED")
    info = engine.collection(result.collection_id, actor=OFFICER)
    assert (info.accomplished_at, info.due_at) == (clock.now, clock.now)
    assert info.expires_at > clock.now
    with pytest.raises(Conflict) as again:
        engine.mark_accomplished(result.collection_id, actor=OFFICER)
    assert again.value.code == "ALREADY_ACCOMPLISHED"


def test_separated_data_is_refused_for_the_cause_that_ended_it(
    engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It names NO_CONSENT for a withdrawn, ACCOMPLISHED for an accomplished separated one."""
    withdrawn = engine.collect(purpose="complaints", items=person, consent=YES, actor=SYSTEM)
    other = dict(person, email="other.person@example.kr", contact="010-3333-4444")
    done = engine.collect(purpose="complaints", items=other, consent=YES, actor=SYSTEM)
    engine.withdraw_consent(withdrawn.collection_id, actor=OFFICER)
    engine.mark_accomplished(done.collection_id, actor=OFFICER)
    clock.advance(minutes=1)
    assert engine.sweep().separated == 2
    for result in (withdrawn, done):
        assert engine.collection(result.collection_id, actor=SYSTEM).state.value == "separated"
    assert refusal(engine, withdrawn.subject_id, "complaints")[0] == "NO_CONSENT"
    assert refusal(engine, done.subject_id, "complaints")[0] == "ACCOMPLISHED"


def view(**changes: object) -> CollectionView:
    values: dict[str, object] = {
        "state": CollectionState.ACTIVE,
        "expires_at": LATER,
        "consented": True,
        "active_holds": 0,
        "due_at": LATER,
    }
    values.update(changes)
    return CollectionView(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("collection", "reason"),
    [
        # Ended outranks a temporary stop: the caller must know the data is gone for good.
        (view(accomplished_at=NOW, due_at=NOW), Reason.ACCOMPLISHED),
        (
            view(accomplished_at=NOW, due_at=NOW, state=CollectionState.SUSPENDED),
            Reason.ACCOMPLISHED,
        ),
        (view(consented=False, due_at=NOW, active_holds=1), Reason.NO_CONSENT),
        (view(consented=False, due_at=NOW, state=CollectionState.SEPARATED), Reason.NO_CONSENT),
        (view(state=CollectionState.SEPARATED, due_at=NOW - timedelta(days=1)), Reason.EXPIRED),
        # The first cause counts: withdrawn after its expiry, it is still expired.
        (
            view(consented=False, expires_at=NOW, due_at=NOW, state=CollectionState.SEPARATED),
            Reason.EXPIRED,
        ),
        # Accomplished after a withdrawal had already made it due: withdrawn.
        (
            view(consented=False, due_at=NOW - timedelta(days=1), accomplished_at=NOW),
            Reason.NO_CONSENT,
        ),
        (view(state=CollectionState.SUSPENDED), Reason.SUSPENDED),
    ],
)
def test_decision_names_the_true_cause(collection: CollectionView, reason: Reason) -> None:
    """It refuses an ended collection for what ended it, before suspension or holds."""
    decision = decide(
        actor=OFFICER,
        policy=POLICY,
        purpose="service",
        items=("name",),
        collection=collection,
        now=NOW,
    )
    assert decision.reason is reason
