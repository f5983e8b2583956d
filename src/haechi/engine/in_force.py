"""Which policy version is in force: read from the database, cached until it may change.

Every server sharing a database reads the same ``policy_versions`` rows, so each finds
the same version in force at the same moment, without a restart. The answer is cached
until the next known effective date or for :data:`REFRESH_SECONDS` of the engine's
clock, whichever comes first: a version published by another server (always at least
the notice period ahead, except the very first) is seen well before it takes effect.

Before any version is published, the file the engine was opened with governs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select

from haechi.errors import PolicyInvalid
from haechi.policy.loader import LoadedPolicy, parse_policy
from haechi.policy.versions import consent_gap
from haechi.storage.tables import policy_versions

__all__ = ["REFRESH_SECONDS", "InForce", "PolicyVersions"]

#: how long (engine clock) an answer is trusted before the database is asked again
REFRESH_SECONDS = 30.0


@dataclass(frozen=True)
class InForce:
    """The version in force, and until when that answer holds."""

    loaded: LoadedPolicy
    n: int | None
    checked_at: datetime
    valid_until: datetime
    #: purposes whose terms differ from some stored version's in a way consent must cover
    changed_purposes: frozenset[str]


class PolicyVersions:
    """The policy in force at a moment, shared by every thread of one engine."""

    def __init__(self, database: SqlEngine, file_policy: LoadedPolicy):
        self._database = database
        self._file = file_policy
        self._parsed: dict[str, LoadedPolicy] = {file_policy.version_id: file_policy}
        self._lock = threading.Lock()
        self._state: InForce | None = None
        self._local = threading.local()

    @property
    def file_policy(self) -> LoadedPolicy:
        """The policy file the engine was opened with."""
        return self._file

    @contextmanager
    def inside_transaction(self) -> Iterator[None]:
        """Mark this thread as inside a transaction: no refresh may open another one.

        (On SQLite every transaction takes the write lock: a second one in the same
        thread would wait on the first for ever.)
        """
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth

    def current(self, now: datetime) -> InForce:
        """The version in force at ``now`` (cached; see the module docstring)."""
        state = self._state
        stale = state is None or not (state.checked_at <= now < state.valid_until)
        if stale and not getattr(self._local, "depth", 0):
            state = self._refresh(now)
        if state is None:
            # Only inside a transaction before the first refresh: the file governs.
            return InForce(self._file, None, now, now, frozenset())
        return state

    def invalidate(self) -> None:
        """Forget the cached answer (after this engine publishes a version)."""
        self._state = None

    def loaded(self, version_id: str) -> LoadedPolicy | None:
        """A stored version by id, parsed once (``None`` if there is no such row)."""
        known = self._parsed.get(version_id)
        if known is not None:
            return known
        with self._database.connect() as connection:
            text = connection.execute(
                select(policy_versions.c.text).where(policy_versions.c.id == version_id)
            ).scalar()
        if text is None:
            return None
        try:
            return self._remember(text)
        except PolicyInvalid:
            # A file an older Haechi loaded may not pass today's checks: no terms to compare.
            return None

    def _remember(self, text: str) -> LoadedPolicy:
        loaded = parse_policy(text, source="stored policy version")
        with self._lock:
            self._parsed.setdefault(loaded.version_id, loaded)
        return self._parsed[loaded.version_id]

    def _refresh(self, now: datetime) -> InForce:
        with self._database.begin() as connection:
            rows = connection.execute(
                select(
                    policy_versions.c.id,
                    policy_versions.c.n,
                    policy_versions.c.effective_at,
                    policy_versions.c.text,
                )
                .where(policy_versions.c.n.is_not(None))
                .order_by(policy_versions.c.effective_at)
            ).all()
            in_force = [row for row in rows if row.effective_at <= now]
            upcoming = [row.effective_at for row in rows if row.effective_at > now]
            loaded, number = self._file, None
            if in_force:
                row = in_force[-1]
                loaded = self._parsed.get(row.id) or self._remember(row.text)
                number = row.n
            previous = self._state
            if previous is not None and previous.loaded.version_id == loaded.version_id:
                changed = previous.changed_purposes
            else:
                others = connection.execute(
                    select(policy_versions.c.id, policy_versions.c.text).where(
                        policy_versions.c.id != loaded.version_id
                    )
                ).all()
                changed = self._changed_purposes(loaded, [(r.id, r.text) for r in others])
        limit = now + timedelta(seconds=REFRESH_SECONDS)
        valid_until = min([limit, *upcoming[:1]])
        state = InForce(loaded, number, now, valid_until, changed)
        self._state = state
        return state

    def _changed_purposes(
        self, current: LoadedPolicy, others: list[tuple[str, str]]
    ) -> frozenset[str]:
        changed: set[str] = set()
        for version_id, text in others:
            old = self._parsed.get(version_id)
            if old is None:
                try:
                    old = self._remember(text)
                except PolicyInvalid:
                    continue
            for name, purpose in current.policy.purposes.items():
                before = old.policy.purposes.get(name)
                if before is not None and not consent_gap(before, purpose).empty:
                    changed.add(name)
        return frozenset(changed)
