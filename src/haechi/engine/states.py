"""A collection's states: holds, suspension, withdrawal of consent, destruction."""

from __future__ import annotations

from haechi.access.decision import Actor
from haechi.audit.events import record_event
from haechi.engine.policy import PolicyMixin
from haechi.errors import AccessDenied
from haechi.retention import destruction, records
from haechi.retention.destruction import ShredResult
from haechi.subjects import service as subjects

__all__ = ["StatesMixin"]


class StatesMixin(PolicyMixin):
    """Holds, suspension, withdrawal, destruction and accomplishment of one collection.

    Each change is one transaction with its audit event (``_change``); a refusal is
    itself an event.
    """

    def place_hold(self, collection_id: str, *, reason: str, actor: Actor) -> str:
        """Stop use of a collection until released (e.g. a correction is pending)."""
        now = self.clock()
        hold_id: str = self._change(
            "hold",
            actor,
            collection_id,
            lambda c: subjects.place_hold(
                c, collection_id=collection_id, reason=reason, placed_by=actor.name, now=now
            ),
        )
        return hold_id

    def release_hold(self, collection_id: str, hold_id: str, *, actor: Actor) -> None:
        """Release a hold placed by :meth:`place_hold`."""
        now = self.clock()
        self._change(
            "release_hold",
            actor,
            collection_id,
            lambda c: subjects.release_hold(
                c, collection_id=collection_id, hold_id=hold_id, now=now
            ),
        )

    def suspend(self, collection_id: str, *, actor: Actor) -> None:
        """Suspend processing at the subject's request."""
        self._suspension(collection_id, suspended=True, actor=actor)

    def resume(self, collection_id: str, *, actor: Actor) -> None:
        """Lift a suspension."""
        self._suspension(collection_id, suspended=False, actor=actor)

    def _suspension(self, collection_id: str, *, suspended: bool, actor: Actor) -> None:
        now = self.clock()
        self._change(
            "suspend" if suspended else "resume",
            actor,
            collection_id,
            lambda c: subjects.set_suspended(
                c, collection_id=collection_id, suspended=suspended, now=now
            ),
        )

    def withdraw_consent(
        self,
        collection_id: str,
        *,
        method: str = "api",
        source_ip: str | None = None,
        actor: Actor,
    ) -> None:
        """Record the subject's withdrawal of consent; use stops at once."""
        now = self.clock()
        self._change(
            "withdraw_consent",
            actor,
            collection_id,
            lambda c: subjects.withdraw_consent(
                c,
                policy=self.policy,
                collection_id=collection_id,
                method=method,
                source_ip=source_ip,
                now=now,
            ),
        )

    def destroy(self, collection_id: str, *, actor: Actor) -> ShredResult:
        """Crypto-shred one collection now, with a certificate of its own.

        Separated data is destroyed only once its legal hold has ended, and only for
        the hold's purpose (``hold:<purpose>``); a refusal is logged and raised.
        """
        now = self.clock()
        error: AccessDenied | None = None
        with self.transaction() as connection:
            target = destruction.lock_target(connection, collection_id)
            refused = destruction.refusal(target, actor=actor, now=now)
            event = {
                "now": now,
                "actor": actor.name,
                "actor_kind": actor.kind,
                "action": "destroy",
                "subject_id": target.subject_id,
                "collection_id": collection_id,
                "purpose": target.purpose,
            }
            if refused is not None:
                code, message = refused
                event_id = record_event(connection, **event, outcome="denied", code=code)
                error = AccessDenied(code, message, audit_event_id=event_id)
            else:
                result = destruction.shred(connection, target, now=now)
                if not result.already_destroyed:
                    records.certify_manual(
                        connection,
                        collection_id=collection_id,
                        subject_id=result.subject_id,
                        purpose=result.purpose,
                        item_names=result.item_names,
                        destroyed_by=actor.name,
                        reason="hold_ended" if result.separated else "manual",
                        now=now,
                    )
                record_event(connection, **event, items=result.item_names)
        if error is not None:
            raise error
        return result

    def mark_accomplished(self, collection_id: str, *, actor: Actor) -> None:
        """Record that a collection's purpose is accomplished; the sweep destroys it."""
        now = self.clock()
        self._change(
            "accomplished",
            actor,
            collection_id,
            lambda c: records.mark_accomplished(c, collection_id=collection_id, now=now),
        )
