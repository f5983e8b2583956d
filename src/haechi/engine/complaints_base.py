"""The shared part of the complaints area: who may read or act, events, the step runner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from haechi.access.decision import Actor, CollectionState, Reason
from haechi.access.roles import Role
from haechi.engine.base import _UNIQUE_IDENTIFIERS
from haechi.engine.subjects import SubjectsMixin
from haechi.errors import AccessDenied, Conflict, HaechiError, InvalidInput, NotFound
from haechi.policy.schema import hold_purpose
from haechi.rights import complaints as service
from haechi.rights.complaints import (
    PURPOSE,
    ComplaintInfo,
    ComplaintState,
)

__all__ = ["ComplaintsBase", "handles", "reads_metadata", "reads_text"]

_HOLD = hold_purpose(PURPOSE)


def reads_text(actor: Actor, info: ComplaintInfo | None = None) -> bool:
    """Whether ``actor`` may read thread texts (of ``info``, if given)."""
    if actor.kind == "system" or actor.role == Role.PRIVACY_OFFICER.value:
        return True
    if info is not None and info.collection_state == CollectionState.SEPARATED.value:
        return actor.may_serve(_HOLD)
    return actor.may_serve(PURPOSE)


def reads_metadata(actor: Actor) -> bool:
    """Whether ``actor`` may read complaints' metadata (auditors and hold keepers too)."""
    return reads_text(actor) or actor.may_serve(_HOLD) or actor.role == Role.AUDITOR.value


def handles(actor: Actor, info: ComplaintInfo) -> bool:
    """Whether ``actor`` acts on ``info``: its assignee, the officer or the system."""
    if actor.kind == "system" or actor.role == Role.PRIVACY_OFFICER.value:
        return True
    return actor.may_serve(PURPOSE) and info.assigned_to == actor.name


class ComplaintsBase(SubjectsMixin):
    """Helpers of the complaints mixins: events, refusals, and one step on one complaint."""

    # -- helpers ------------------------------------------------------------------

    def _complaint_event(
        self, connection: Connection, actor: Actor, action: str, info: ComplaintInfo, **more: Any
    ) -> None:
        self._record(
            connection,
            actor,
            action,
            subject_id=info.subject_id,
            collection_id=info.collection_id,
            purpose=PURPOSE,
            reason=f"complaint {info.id}",
            **more,
        )

    def _complaint_denial(
        self,
        connection: Connection,
        actor: Actor,
        action: str,
        code: str,
        info: ComplaintInfo | None = None,
    ) -> int:
        named: dict[str, Any] = {}
        if info is not None:
            named = {
                "subject_id": info.subject_id,
                "collection_id": info.collection_id,
                "purpose": PURPOSE,
                "reason": f"complaint {info.id}",
            }
        return self._record_denial(connection, actor, action, code, **named)

    def _with_complaint(
        self,
        complaint_id: str,
        *,
        actor: Actor,
        action: str,
        may: Any,
        step: Any,
        lock: bool = True,
    ) -> Any:
        """Run ``step(connection, info)`` on a locked complaint if ``may(info)``; one event.

        A missing complaint, a refusal and a refused step (a HaechiError it raises) are
        recorded as denied events and committed before the error is raised.
        """
        error: HaechiError | None = None
        result: Any = None
        with self.transaction() as connection:
            try:
                info = service.get_complaint(connection, complaint_id, lock=lock)
            except NotFound as missing:
                self._complaint_denial(connection, actor, action, "NOT_FOUND")
                error = missing
            else:
                if not may(info):
                    event_id = self._complaint_denial(
                        connection, actor, action, Reason.NO_GRANT.value, info
                    )
                    error = AccessDenied(
                        Reason.NO_GRANT.value,
                        "no grant to act on this complaint",
                        audit_event_id=event_id,
                    )
                else:
                    # Steps check before they write: a refused one has changed nothing.
                    try:
                        result = step(connection, info)
                    except HaechiError as refused:
                        self._complaint_denial(connection, actor, action, refused.code, info)
                        error = refused
                    else:
                        self._complaint_event(connection, actor, action, info)
        if error is not None:
            raise error
        return result

    @staticmethod
    def _open_for_change(info: ComplaintInfo) -> None:
        if info.state is ComplaintState.CLOSED:
            raise Conflict("the complaint is closed", code="COMPLAINT_CLOSED")
        if info.collection_state != CollectionState.ACTIVE.value:
            raise Conflict(
                f"the complaint's collection is {info.collection_state}",
                code="COLLECTION_NOT_ACTIVE",
            )

    def _check_text(self, text: object, *, field: str) -> str:
        problem = service.message_problem(text, field=field)
        if problem is None and self.settings.collect.refuse_identifiers_in_text:
            from haechi.discovery import find_identifiers

            assert isinstance(text, str)
            if any(finding.type in _UNIQUE_IDENTIFIERS for finding in find_identifiers(text)):
                problem = InvalidInput(
                    f"{field} holds what looks like a unique identifier, which is not collected",
                    field=field,
                    code="UNIQUE_IDENTIFIER_IN_TEXT",
                )
        if problem is not None:
            raise problem
        assert isinstance(text, str)
        return text
