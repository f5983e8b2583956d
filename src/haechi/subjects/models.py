"""What the subjects services take and give: consent evidence, results, metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from haechi.access.decision import CollectionState

__all__ = ["CollectResult", "CollectionInfo", "ConsentEvidence", "SubjectLookup"]


@dataclass(frozen=True)
class ConsentEvidence:
    """How consent was given: the channel and method, the address, the text shown."""

    granted: bool
    method: str
    text_hash: str | None = None
    source_ip: str | None = None


@dataclass(frozen=True)
class CollectResult:
    """What a collection produced."""

    subject_id: str
    collection_id: str
    expires_at: datetime
    created: bool


@dataclass(frozen=True)
class CollectionInfo:
    """A collection's metadata: never its values."""

    id: str
    subject_id: str
    purpose: str
    state: CollectionState
    consented: bool
    policy_version: str
    collected_at: datetime
    updated_at: datetime
    expires_at: datetime
    channel: str
    # When destruction falls due (the expiry, or earlier: accomplished or withdrawn),
    # and when the purpose was declared accomplished. The state says where the data
    # is; these say why and from when it is no longer used.
    due_at: datetime
    accomplished_at: datetime | None


@dataclass(frozen=True)
class SubjectLookup:
    """Who holds a looked-up email or phone, split by what the asking actor may see.

    ``visible``: subjects with live data for a purpose the actor serves; ``hidden``
    (only when none is visible): subjects whose data is kept for other purposes. Each
    holds at most two ids, sorted: enough to answer or to call the answer ambiguous.
    """

    visible: tuple[str, ...]
    hidden: tuple[str, ...]

    @property
    def subject_id(self) -> str | None:
        """The answer: the one visible holder, else None."""
        return self.visible[0] if len(self.visible) == 1 else None

    @property
    def refusal(self) -> str | None:
        """Why the lookup is refused: several visible holders, or only hidden ones."""
        if len(self.visible) > 1:
            return "AMBIGUOUS_IDENTIFIER"
        if not self.visible and self.hidden:
            return "NO_GRANT"
        return None

    @property
    def logged_subject(self) -> str | None:
        """The subject the lookup's audit event names: the only one concerned, if one."""
        if self.subject_id is not None:
            return self.subject_id
        return self.hidden[0] if not self.visible and len(self.hidden) == 1 else None
