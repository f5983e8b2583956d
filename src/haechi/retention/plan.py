"""What a sweep would do as of a moment: the conditions it selects by, and its report.

A collection is *due* from its ``due_at`` (its expiry, or earlier when its purpose is
accomplished or consent is withdrawn) and *overdue* once the policy's grace period has
passed too. These conditions serve both the dry run (counts only) and the real run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from haechi.access.decision import CollectionState
from haechi.policy.schema import Policy
from haechi.storage.tables import collections

__all__ = ["LIVE_STATES", "METHOD", "Plan", "Progress", "StepHook", "SweepReport"]

# States whose data is still in the main store.
LIVE_STATES = (
    CollectionState.ACTIVE.value,
    CollectionState.HELD.value,
    CollectionState.SUSPENDED.value,
)
METHOD = "crypto-shred"

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while a sweep runs."""

StepHook = Callable[[str, list[str]], None]
"""Called as ``hook(step, collection_ids)`` between the steps of a chunk.

``"copied"``: the chunk is in the separated store and the main store has not let go
of it yet; ``"certified"``: a chunk of separated collections is certified and their
separated copies are not yet deleted (the same transaction). Tests pass one to put a
concurrent change or a crash exactly there; a sweep in service has none.
"""


@dataclass
class SweepReport:
    """What a sweep found and did (or, in a dry run, would do)."""

    now: datetime
    dry_run: bool
    expired: int = 0
    separated: int = 0
    destroyed: int = 0
    overdue: int = 0
    overdue_ids: list[str] = field(default_factory=list)
    batch_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "expired": self.expired,
            "separated": self.separated,
            "destroyed": self.destroyed,
            "overdue": self.overdue,
            "overdue_ids": self.overdue_ids,
            "batch_id": self.batch_id,
        }


@dataclass(frozen=True)
class Counts:
    """How many collections each stage of a sweep has before it."""

    to_separate: int
    to_destroy: int
    hold_ended: int
    overdue: int
    overdue_ids: list[str]


class Plan:
    """The sweep's conditions for one policy: what is due, what is overdue."""

    def __init__(self, policy: Policy):
        self.held = sorted(
            name for name, purpose in policy.purposes.items() if purpose.legal_hold is not None
        )
        self.grace = timedelta(days=policy.destruction.grace_days)

    def due_live(self, now: datetime, *, held: bool) -> Any:
        """Live collections due by ``now``, of purposes with (or without) a legal hold."""
        by_purpose = (
            collections.c.purpose.in_(self.held)
            if held
            else collections.c.purpose.notin_(self.held)
        )
        return and_(collections.c.state.in_(LIVE_STATES), collections.c.due_at <= now, by_purpose)

    @staticmethod
    def hold_ended(now: datetime) -> Any:
        """Separated collections whose legal hold has ended by ``now``."""
        return and_(
            collections.c.state == CollectionState.SEPARATED.value,
            collections.c.hold_until <= now,
        )

    def overdue(self, now: datetime) -> Any:
        """Collections late to be destroyed, or (for a held purpose) late to be separated."""
        late = now - self.grace
        return or_(
            and_(collections.c.state.in_(LIVE_STATES), collections.c.due_at <= late),
            self.hold_ended(late),
        )

    def overdue_ids(self, connection: Connection, now: datetime, *, limit: int = 100) -> list[str]:
        """Ids of collections whose destruction is past due + grace (at most ``limit``)."""
        return list(
            connection.execute(
                select(collections.c.id)
                .where(self.overdue(now))
                .order_by(collections.c.due_at)
                .limit(limit)
            ).scalars()
        )

    def count(self, connection: Connection, now: datetime) -> Counts:
        """How much work a sweep as of ``now`` has (what a dry run reports)."""

        def number(condition: Any) -> int:
            return int(connection.execute(select(func.count()).where(condition)).scalar_one())

        return Counts(
            to_separate=number(self.due_live(now, held=True)),
            to_destroy=number(self.due_live(now, held=False)),
            hold_ended=number(self.hold_ended(now)),
            overdue=number(self.overdue(now)),
            overdue_ids=self.overdue_ids(connection, now),
        )
