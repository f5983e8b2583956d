"""The access decision: a pure function saying whether a use is allowed, and why not.

It reads no database and no clock: everything it depends on is an argument, so the
same inputs always give the same answer, and every branch is testable on its own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from haechi.policy.schema import Policy, split_hold_purpose

__all__ = [
    "Actor",
    "CollectionState",
    "CollectionView",
    "Decision",
    "Reason",
    "decide",
    "due_cause",
]


class Reason(StrEnum):
    """Why a use was refused; stable codes shown to callers and kept in the log."""

    NO_GRANT = "NO_GRANT"
    NO_CONSENT = "NO_CONSENT"
    PURPOSE_NOT_DECLARED = "PURPOSE_NOT_DECLARED"
    ITEM_NOT_DECLARED = "ITEM_NOT_DECLARED"
    EXPIRED = "EXPIRED"
    ACCOMPLISHED = "ACCOMPLISHED"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    DESTROYED = "DESTROYED"


class CollectionState(StrEnum):
    """Life of a collection: active → (held | suspended) → separated → destroyed."""

    ACTIVE = "active"
    HELD = "held"
    SUSPENDED = "suspended"
    SEPARATED = "separated"
    DESTROYED = "destroyed"


@dataclass(frozen=True)
class Actor:
    """Who asks: a person or a service token, with the purposes it was granted.

    ``role`` is a staff member's role (``privacy_officer``, ``handler``, ``auditor``,
    ``admin``); tokens and the system have none. ``source_ip`` is where the request
    comes from, bound by the surface that authenticated it: every audit event the
    actor causes records it.
    """

    name: str
    kind: str
    purposes: frozenset[str]
    id: str | None = None
    all_purposes: bool = False
    role: str | None = None
    source_ip: str | None = None

    def may_serve(self, purpose: str) -> bool:
        """Whether this actor holds a grant for ``purpose``."""
        return self.all_purposes or purpose in self.purposes


@dataclass(frozen=True)
class CollectionView:
    """What the decision needs to know about one collection.

    ``due_at`` is when its destruction falls due (its expiry unless accomplishment or
    a withdrawal brought it forward; None reads as ``expires_at``).
    """

    state: CollectionState
    expires_at: datetime
    consented: bool
    active_holds: int
    hold_until: datetime | None = None
    due_at: datetime | None = None
    accomplished_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """Allowed, or refused with a reason."""

    allowed: bool
    reason: Reason | None
    message: str

    @classmethod
    def allow(cls) -> Decision:
        """An allowing decision."""
        return cls(True, None, "allowed")

    @classmethod
    def deny(cls, reason: Reason, message: str) -> Decision:
        """A refusing decision."""
        return cls(False, reason, message)


def decide(
    *,
    actor: Actor,
    policy: Policy,
    purpose: str,
    items: Collection[str],
    collection: CollectionView | None,
    now: datetime,
) -> Decision:
    """Decide whether ``actor`` may read ``items`` of ``collection`` for ``purpose``.

    ``purpose`` may name a legal hold, ``hold:<purpose>``: data separated under that
    hold is readable for it alone, and nothing else is.
    """
    base, for_hold = split_hold_purpose(purpose)
    declared = policy.purpose(base)
    if for_hold and declared is not None and declared.legal_hold is None:
        declared = None
    if declared is None:
        # The undeclared text is the client's: never echoed (see haechi.audit.events).
        return Decision.deny(
            Reason.PURPOSE_NOT_DECLARED, "the purpose is not declared in the policy"
        )
    if not actor.may_serve(purpose):
        return Decision.deny(Reason.NO_GRANT, f"no grant for purpose {purpose!r}")
    undeclared = set(items) - declared.all_items
    if undeclared:
        return Decision.deny(
            Reason.ITEM_NOT_DECLARED,
            f"{len(undeclared)} of the items asked for are not declared for purpose {purpose!r}",
        )
    if collection is None:
        return Decision.deny(
            Reason.NO_CONSENT, f"the subject gave no data or consent for purpose {purpose!r}"
        )
    if collection.state is CollectionState.DESTROYED:
        return Decision.deny(Reason.DESTROYED, "the data for this purpose was destroyed")
    if for_hold:
        return _decide_for_hold(purpose, collection, now)
    # An ended collection is refused for the cause that ended it, before any
    # temporary stop: that cause is what the caller must act on.
    ended = (
        collection.state is CollectionState.SEPARATED
        or now >= collection.expires_at
        or (collection.accomplished_at is not None and now >= collection.accomplished_at)
        or (declared.needs_consent and not collection.consented)
    )
    if ended:
        cause = due_cause(collection, now)
        return Decision.deny(cause, _ENDED[cause].format(purpose=purpose))
    if collection.state is CollectionState.SUSPENDED:
        return Decision.deny(Reason.SUSPENDED, "the subject asked to suspend processing")
    if collection.state is CollectionState.HELD or collection.active_holds > 0:
        return Decision.deny(
            Reason.HELD, "a correction or deletion request is pending for this data"
        )
    return Decision.allow()


_ENDED = {
    Reason.ACCOMPLISHED: "the purpose {purpose!r} is accomplished; the data awaits destruction",
    Reason.NO_CONSENT: "consent for purpose {purpose!r} was withdrawn",
    Reason.EXPIRED: "the retention period for this purpose has ended",
}


def due_cause(collection: CollectionView, now: datetime) -> Reason:
    """What ended a collection: its accomplishment, a withdrawal, or its expiry.

    The first of them counts, as in its destruction certificate's reason (the sweep
    computes the same in SQL, :mod:`haechi.retention.certify`).
    """
    due_at = collection.due_at or collection.expires_at
    if collection.accomplished_at is not None and collection.accomplished_at <= due_at:
        return Reason.ACCOMPLISHED
    if not collection.consented and (due_at < collection.expires_at or now < due_at):
        return Reason.NO_CONSENT
    return Reason.EXPIRED


def _decide_for_hold(purpose: str, collection: CollectionView, now: datetime) -> Decision:
    """A read under a legal hold: separated data only, and only until the hold ends.

    Consent and the purpose's own clock no longer matter: the statute is the legal
    basis for keeping (and for this use) now.
    """
    if collection.state is not CollectionState.SEPARATED:
        return Decision.deny(
            Reason.PURPOSE_NOT_DECLARED,
            f"purpose {purpose!r} applies only to data separated under its legal hold",
        )
    if collection.hold_until is not None and now >= collection.hold_until:
        return Decision.deny(Reason.EXPIRED, "the legal hold on this data has ended")
    return Decision.allow()
