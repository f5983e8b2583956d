"""Keys: the epochs that wrap data keys, the key job, rotation (see docs/keys.md)."""

from __future__ import annotations

from dataclasses import dataclass

from haechi.access.decision import Actor
from haechi.audit.events import record_event
from haechi.engine.base import EngineBase
from haechi.errors import InvalidInput
from haechi.retention.keys import (
    KeyJob,
    KeyReport,
    KeyStatus,
    MasterWrapped,
    Progress,
    StepHook,
    backup_window,
)
from haechi.rights import complaints_thread, documents
from haechi.storage.complaints_tables import complaint_keys
from haechi.storage.rights_tables import rights_request_keys

__all__ = ["KeysMixin", "MasterRotation"]

MAX_EPOCH_IDS = 100

# What the master key wraps besides the key directory: each request's and each
# complaint's data key (data keys of collections are under epochs).
MASTER_WRAPPED = (
    MasterWrapped(
        rights_request_keys,
        ("request_id",),
        lambda row: documents.key_context(row.request_id),
    ),
    MasterWrapped(
        complaint_keys,
        ("complaint_id", "collection_id"),
        lambda row: complaints_thread.key_context(row.complaint_id, row.collection_id),
    ),
)


@dataclass(frozen=True)
class MasterRotation:
    """A master-key rotation: the key retired (destroyed after the window) and the new one."""

    old_key_id: str
    new_key_id: str


class KeysMixin(EngineBase):
    """The key job and what operators ask of keys."""

    def key_job(self, *, name: str = "keys", between: StepHook | None = None) -> KeyJob:
        """A key job over this engine's database and key provider."""
        return KeyJob(
            self.database,
            keys=self.keys,
            window=backup_window(self.settings.keys.backup_window),
            chunk_size=self.settings.keys.chunk_size,
            name=name,
            between=between,
            master_wrapped=MASTER_WRAPPED,
        )

    def key_status(self, *, actor: Actor) -> KeyStatus:
        """The epoch keys held, what each protects (counts), when each is due to go."""
        del actor  # counts and dates of keys: nothing about a person
        return self.key_job().status()

    def run_keys(self, *, actor: Actor, progress: Progress | None = None) -> KeyReport:
        """Run the key job now (once across servers: skipped if another runs it)."""
        return self.key_job(name=actor.name).run(now=self.clock(), progress=progress)

    def rotate_epochs(self, *, actor: Actor, epoch_ids: list[str] | None = None) -> list[str]:
        """Mark current epoch keys (all, or those named) for rotation; the key job moves them.

        Each old epoch key is then destroyed a backup window from now.
        """
        if epoch_ids is not None and len(epoch_ids) > MAX_EPOCH_IDS:
            raise InvalidInput(
                f"at most {MAX_EPOCH_IDS} epoch ids at once", field="epoch", code="TOO_MANY"
            )
        now = self.clock()
        marked = self.key_job(name=actor.name).rotate(now=now, epoch_ids=epoch_ids)
        self._record_keys(actor, "keys_rotate", f"{len(marked)} epoch key(s) marked for rotation")
        return marked

    def _record_keys(self, actor: Actor, action: str, reason: str) -> None:
        """An audit event of an operator's key action (ids and counts only)."""
        with self.transaction() as connection:
            record_event(
                connection,
                now=self.clock(),
                actor=actor.name,
                actor_kind=actor.kind,
                action=action,
                reason=reason,
                source_ip=actor.source_ip,
            )

    def rotate_master(self, *, actor: Actor) -> MasterRotation:
        """Put a new master key in use; the key job re-wraps what the old one wrapped.

        The old master key is kept, retired, until the backup window has passed after
        this moment and nothing is wrapped by it any more; then the key job destroys it.
        """
        old, new = self.keys.rotate_master()
        self._record_keys(actor, "keys_rotate_master", f"master key {old} retired; {new} in use")
        return MasterRotation(old, new)
