"""The access decision, one reason code at a time (pure: no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from haechi.access.decision import Actor, CollectionState, CollectionView, Reason, decide
from haechi.policy import demo_policy_text, parse_policy

POLICY = parse_policy(demo_policy_text()).policy
NOW = datetime(2026, 6, 1, tzinfo=UTC)
HANDLER = Actor(name="crm", kind="token", purposes=frozenset({"service"}))
LIVE = CollectionView(
    state=CollectionState.ACTIVE,
    expires_at=NOW + timedelta(days=30),
    consented=True,
    active_holds=0,
)


def run(
    *,
    purpose: str = "service",
    items: tuple[str, ...] = ("name", "email"),
    collection: CollectionView | None = LIVE,
    actor: Actor = HANDLER,
) -> Reason | None:
    return decide(
        actor=actor, policy=POLICY, purpose=purpose, items=items, collection=collection, now=NOW
    ).reason


def live(**changes: object) -> CollectionView:
    values = {**LIVE.__dict__, **changes}
    return CollectionView(**values)  # type: ignore[arg-type]


def test_allowed() -> None:
    """It allows a granted actor to read declared items of a live, consented collection."""
    assert run() is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"purpose": "lottery"}, Reason.PURPOSE_NOT_DECLARED),
        ({"purpose": "marketing"}, Reason.NO_GRANT),
        ({"items": ("name", "birthday")}, Reason.ITEM_NOT_DECLARED),
        ({"collection": None}, Reason.NO_CONSENT),
        ({"collection": live(consented=False)}, Reason.NO_CONSENT),
        ({"collection": live(state=CollectionState.DESTROYED)}, Reason.DESTROYED),
        ({"collection": live(expires_at=NOW)}, Reason.EXPIRED),
        ({"collection": live(state=CollectionState.SEPARATED)}, Reason.EXPIRED),
        ({"collection": live(state=CollectionState.SUSPENDED)}, Reason.SUSPENDED),
        ({"collection": live(state=CollectionState.HELD)}, Reason.HELD),
        ({"collection": live(active_holds=1)}, Reason.HELD),
    ],
    ids=lambda value: value.value if isinstance(value, Reason) else None,
)
def test_refusals(kwargs: dict[str, object], reason: Reason) -> None:
    """It refuses with the reason code that names the problem."""
    assert run(**kwargs) is reason  # type: ignore[arg-type]


def test_expiry_is_exact() -> None:
    """It allows until the expiry instant and refuses from it on."""
    just_before = live(expires_at=NOW + timedelta(microseconds=1))
    assert run(collection=just_before) is None
    assert run(collection=live(expires_at=NOW)) is Reason.EXPIRED
