"""Who may act on a request, reading requests, what each kind does, and the clock.

The clock: deadline alerts, and the end of a request's retention.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, select, update

from haechi.access.decision import Actor
from haechi.access.roles import Role, require_role
from haechi.audit.monitor import record_alert
from haechi.engine import rights_actions as fulfil
from haechi.engine.base import SYSTEM
from haechi.engine.rights import RightsMixin
from haechi.errors import InvalidInput, PermissionDenied
from haechi.rights import documents
from haechi.rights import requests as rows
from haechi.rights.exports import build_export
from haechi.rights.models import Kind, RefusalReason, RequestInfo, State, SubjectExport
from haechi.storage.rights_tables import rights_codes, rights_requests
from haechi.subjects.values import CleanValue, clean_value

__all__ = ["RightsFulfilMixin", "moment"]

# Unverified web requests raise no alert: anyone may type an address. A request staff
# entered counts from its receipt, verified or not.
_WATCHED = (State.VERIFIED.value, State.IN_PROGRESS.value, State.POSTPONED.value)


def moment(value: object) -> datetime | None:
    """An ISO time kept in an outcome, back as a datetime."""
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class RightsFulfilMixin(RightsMixin):
    """Fulfilment of requests, the access export, deadline alerts and retention."""

    # -- who may do what ----------------------------------------------------------

    def _may_act(self, connection: Connection, row: Row[Any], step: str, actor: Actor) -> None:
        """Refuse (and record) an actor without the role or grants for this request."""
        try:
            require_role(actor, Role.PRIVACY_OFFICER, Role.HANDLER)
            if not self._may_serve_all(actor, rows.purposes_of(row)):
                raise PermissionDenied(
                    "this request concerns purposes you are not granted", code="NO_GRANT"
                )
        except PermissionDenied as refused:
            self._step(connection, row, step, actor=actor, outcome="denied", code=refused.code)
            raise

    def _refusing(self, row: Row[Any], step: str, actor: Actor) -> PermissionDenied | None:
        """The refusal of ``actor`` for ``row``, recorded in a transaction of its own."""
        with self.transaction() as connection:
            try:
                self._may_act(connection, row, step, actor)
            except PermissionDenied as refused:
                return refused
        return None

    def _acting(self, request_id: str, step: str, actor: Actor) -> Row[Any]:
        """The request, once ``actor`` is found allowed to act on it (refusals recorded)."""
        with self.transaction() as connection:
            row = rows.load(connection, request_id)
        refused = self._refusing(row, step, actor)
        if refused is not None:
            raise refused
        return row

    # -- reading --------------------------------------------------------------------

    def requests(
        self,
        *,
        actor: Actor,
        state: str | None = None,
        kind: str | None = None,
        due_before: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[RequestInfo]:
        """Requests by due date: all for the officer and auditors, a handler's own purposes."""
        require_role(actor, Role.PRIVACY_OFFICER, Role.HANDLER, Role.AUDITOR)
        if state is not None and state not in set(State):
            raise InvalidInput("state is not a request state", field="state")
        if kind is not None and kind not in set(Kind):
            raise InvalidInput("kind is not a request kind", field="kind")
        if due_before is not None and due_before.tzinfo is None:
            raise InvalidInput("due_before must give its UTC offset", field="due_before")
        if offset < 0:
            raise InvalidInput("offset is 0 or more", field="offset")
        with self.transaction() as connection:
            found = rows.list_rows(
                connection,
                state=state,
                kind=kind,
                due_before=due_before,
                limit=limit,
                offset=offset,
            )
            listed = [
                rows.info(connection, row)
                for row in found
                if actor.role != Role.HANDLER.value
                or self._may_serve_all(actor, rows.purposes_of(row))
            ]
            self._record(
                connection,
                actor,
                "request_list",
                reason=f"{len(listed)} request(s)",
            )
        return listed

    def request(self, request_id: str, *, actor: Actor) -> RequestInfo:
        """One request with its documents (never their contents) and its history."""
        require_role(actor, Role.PRIVACY_OFFICER, Role.HANDLER, Role.AUDITOR)
        with self.transaction() as connection:
            row = rows.load(connection, request_id)
        if actor.role == Role.HANDLER.value:
            refused = self._refusing(row, "view", actor)
            if refused is not None:
                raise refused
        with self.transaction() as connection:
            self._step(connection, row, "view", actor=actor)
            return rows.info(connection, rows.load(connection, request_id), detailed=True)

    # -- fulfilment ------------------------------------------------------------------

    def _fulfil(
        self, connection: Connection, row: Row[Any], *, actor: Actor, now: datetime
    ) -> tuple[State, dict[str, Any], SubjectExport | None]:
        """Do what the request asks; return the closing state, its outcome and any export."""
        kind = Kind(row.kind)
        subject_id = row.subject_id
        purposes = rows.purposes_of(row)
        if subject_id is None:
            return State.REFUSED, {"refusal_reason": RefusalReason.NOTHING_HELD.value}, None
        if kind is Kind.ACCESS:
            export = self._export(connection, subject_id, actor=actor, request=row)
            return State.COMPLETED, {"exported": True}, export
        if kind is Kind.DELETION:
            return self._delete(connection, row, subject_id, purposes, actor=actor, now=now)
        targets = fulfil.in_scope(connection, subject_id=subject_id, purposes=purposes, lock=True)
        if kind is Kind.CORRECTION:
            corrections = self._corrections(connection, row.id)
            changed = fulfil.correct(
                connection,
                policy=self.policy,
                keys=self.keys,
                index=self._index,
                subject_id=subject_id,
                targets=targets,
                corrections=corrections,
                now=now,
            )
            return State.COMPLETED, {"corrected": changed}, None
        if kind is Kind.SUSPENSION:
            changed_ids = fulfil.suspend(connection, targets=targets, lift=False, now=now)
            return State.COMPLETED, {"suspended": changed_ids}, None
        changed_ids = fulfil.withdraw(
            connection, policy=self.policy, targets=targets, source_ip=actor.source_ip, now=now
        )
        return State.COMPLETED, {"withdrawn": changed_ids}, None

    def _corrections(self, connection: Connection, request_id: str) -> dict[str, CleanValue]:
        content = documents.read(
            connection, keys=self.keys, request_id=request_id, kind=documents.CORRECTIONS
        )
        asked: dict[str, str] = json.loads(content) if content else {}
        items = self.policy.policy.items
        return {name: clean_value(name, items[name], value) for name, value in asked.items()}

    def _delete(
        self,
        connection: Connection,
        row: Row[Any],
        subject_id: str,
        purposes: list[str],
        *,
        actor: Actor,
        now: datetime,
    ) -> tuple[State, dict[str, Any], None]:
        targets = fulfil.in_scope(
            connection, subject_id=subject_id, purposes=purposes, separated=True, lock=True
        )
        kept = [
            refusal
            for target in targets
            if (refusal := fulfil.legal_hold(self.policy.policy, target, now=now)) is not None
        ]
        kept_ids = {refusal.collection_id for refusal in kept}
        destroyed = fulfil.delete(
            connection,
            targets=[target for target in targets if target.id not in kept_ids],
            by=actor.name,
            now=now,
        )
        outcome: dict[str, Any] = {
            "destroyed": destroyed,
            "kept": [
                {
                    "collection_id": refusal.collection_id,
                    "purpose": refusal.purpose,
                    "hold": f"hold:{refusal.purpose}",
                    "until": refusal.until.isoformat(),
                }
                for refusal in kept
            ],
        }
        if kept and not destroyed:
            outcome["refusal_reason"] = RefusalReason.LEGAL_HOLD.value
            outcome["refusal_until"] = max(refusal.until for refusal in kept).isoformat()
            return State.REFUSED, outcome, None
        return State.COMPLETED, outcome, None

    # -- the access export ---------------------------------------------------------

    def _export(
        self,
        connection: Connection,
        subject_id: str,
        *,
        actor: Actor,
        request: Row[Any] | None,
    ) -> SubjectExport:
        now = self.clock()
        data = build_export(connection, keys=self.keys, subject_id=subject_id, now=now)
        reason = f"rights_request {request.id} access" if request is not None else "export"
        for entry in data["collections"]:
            self._record(
                connection,
                actor,
                "rights_export",
                now=now,
                subject_id=subject_id,
                collection_id=entry["id"],
                purpose=entry["purpose"],
                items=list(entry["items"]),
                reason=reason,
            )
        return SubjectExport(subject_id=subject_id, generated_at=now, data=data)

    def export_subject(self, subject_id: str, *, actor: Actor) -> SubjectExport:
        """Everything held about one person, values decrypted, each read an audit event.

        For the privacy officer (or the system) answering an access request.
        """
        require_role(actor, Role.PRIVACY_OFFICER)
        if not actor.all_purposes and actor.kind != "system":
            raise PermissionDenied("the export needs every purpose", code="NO_GRANT")
        with self.transaction() as connection:
            return self._export(connection, subject_id, actor=actor, request=None)

    # -- the clock ------------------------------------------------------------------

    def check_request_deadlines(self) -> int:
        """Alert on requests due within the warning time and on overdue ones; each once.

        The claim is a conditional update, so however many servers run the check, one
        alert is raised per request and stage.
        """
        now = self.clock()
        raised = 0
        with self.transaction() as connection:
            due = connection.execute(
                select(
                    rights_requests.c.id,
                    rights_requests.c.kind,
                    rights_requests.c.due_at,
                    rights_requests.c.alerted,
                )
                .where(
                    rights_requests.c.state.in_(_WATCHED)
                    | (
                        (rights_requests.c.state == State.RECEIVED.value)
                        & (rights_requests.c.channel != "web")
                    ),
                    rights_requests.c.due_at <= now + self.request_rules.due_soon,
                )
                .order_by(rights_requests.c.due_at)
            ).all()
            for row in due:
                stage = "overdue" if row.due_at <= now else "due_soon"
                if row.alerted == stage or (row.alerted == "overdue"):
                    continue
                claimed = connection.execute(
                    update(rights_requests)
                    .where(
                        rights_requests.c.id == row.id,
                        (rights_requests.c.alerted.is_(None))
                        | (rights_requests.c.alerted != stage),
                    )
                    .values(alerted=stage)
                ).rowcount
                if not claimed:
                    continue
                record_alert(
                    connection,
                    rule=f"request_{stage}",
                    actor=SYSTEM.name,
                    now=now,
                    window=(now, now),
                    detail={
                        "request_id": row.id,
                        "kind": row.kind,
                        "due_at": row.due_at.isoformat(),
                    },
                )
                raised += 1
        return raised

    def purge_requests(self) -> int:
        """Shred the key and documents of requests past their retention; keep the ids."""
        now = self.clock()
        with self.transaction() as connection:
            ended = list(
                connection.execute(
                    select(rights_requests.c.id)
                    .where(
                        rights_requests.c.retain_until <= now, rights_requests.c.purged_at.is_(None)
                    )
                    .limit(1000)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            for request_id in ended:
                documents.shred(connection, request_id)
                connection.execute(
                    delete(rights_codes).where(rights_codes.c.request_id == request_id)
                )
                connection.execute(
                    update(rights_requests)
                    .where(rights_requests.c.id == request_id)
                    .values(purged_at=now, status_token_hash=None, contact_digest=None)
                )
        return len(ended)
