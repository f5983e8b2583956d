"""The breach register: incidents opened from the log, contained, notified, reported, closed.

The privacy officer opens, contains, notifies, reports and closes; auditors read the
register. Every change is an audit event (``incident_*``) naming the incident and
counts, never a subject; reading the affected list is an event of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, update

from haechi.access import staff as accounts
from haechi.access.decision import Actor
from haechi.access.staff import Role, require_role
from haechi.access.tokens import revoke_token
from haechi.audit.verify import InclusionProof, prove_inclusion
from haechi.engine.access import AccessMixin
from haechi.engine.base import SYSTEM
from haechi.engine.log import LogMixin
from haechi.errors import Conflict, InvalidInput, NotFound
from haechi.incidents import (
    Containment,
    Incident,
    check_deadlines,
    check_scope,
    close_incident,
    containment_of,
    create_incident,
    find_affected,
    get_incident,
    list_incidents,
    open_affected,
    open_details,
    record_containment,
)
from haechi.incidents import notices as notice_state
from haechi.incidents.register import check_incident_id
from haechi.storage.incidents_tables import incidents as incidents_table

__all__ = ["IncidentsMixin", "NoticeRun", "PendingNotice"]

_OFFICER = (Role.PRIVACY_OFFICER,)
_READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR)
#: the most inclusion proofs one call builds
MAX_PROOFS = 1000
_TOKEN_PREFIX = "token:"  # noqa: S105 - how the log names a token actor


@dataclass(frozen=True)
class PendingNotice:
    """One person still to be told: their place in the list, id, and what was read."""

    n: int
    subject_id: str
    reads: dict[str, Any]


@dataclass(frozen=True)
class NoticeRun:
    """A run of notices under the incident's lease: the incident and who is left."""

    incident: Incident
    containment: list[Containment]
    pending: list[PendingNotice]


class IncidentsMixin(LogMixin, AccessMixin):
    """The breach register (PIPA Art. 34)."""

    def open_incident(
        self,
        *,
        title: str,
        aware_at: datetime,
        start: datetime,
        end: datetime,
        actors: list[str],
        networks: list[str],
        circumstances: str = "",
        outside_access: bool = False,
        actor: Actor,
    ) -> Incident:
        """Open an incident: the affected set from the log, frozen and sealed with it."""

        def change(connection: Connection, now: datetime) -> str:
            scope = check_scope(
                title=title,
                aware_at=aware_at,
                start=start,
                end=end,
                actors=actors,
                networks=networks,
                now=now,
                circumstances=circumstances,
                outside_access=outside_access,
            )
            affected = find_affected(
                connection, scope, declared_items=set(self.policy.policy.items)
            )
            incident_id = create_incident(
                connection,
                keys=self.keys,
                policy=self.policy.policy,
                scope=scope,
                affected=affected,
                opened_by=actor.name,
                now=now,
            )
            self._record(
                connection,
                actor,
                "incident_open",
                now=now,
                reason=(
                    f"incident {incident_id}: {len(affected.subjects)} people, "
                    f"{len(affected.events)} events"
                ),
            )
            return incident_id

        incident_id: str = self._staff_change("incident_open", actor, _OFFICER, change)
        with self.database.connect() as connection:
            return get_incident(connection, incident_id)

    def incidents(self, *, actor: Actor, open_only: bool = False) -> list[Incident]:
        """The register, newest first (counts and dates only)."""
        require_role(actor, *_READERS)
        with self.database.connect() as connection:
            return list_incidents(connection, open_only=open_only)

    def incident(self, incident_id: str, *, actor: Actor) -> dict[str, Any]:
        """One incident with its details and containment steps (no subject ids)."""
        require_role(actor, *_READERS)
        with self.database.connect() as connection:
            found = get_incident(connection, incident_id)
            details = open_details(connection, keys=self.keys, incident_id=found.id)
            steps = containment_of(connection, keys=self.keys, incident_id=found.id)
        return {
            **found.to_json(now=self.clock()),
            **details,
            "containment": [step.to_json() for step in steps],
        }

    def incident_subjects(
        self, incident_id: str, *, actor: Actor
    ) -> list[tuple[str, dict[str, Any]]]:
        """The frozen affected list: each subject and what was read (an audit event).

        A refusal is an event too.
        """

        def change(connection: Connection, now: datetime) -> list[tuple[str, dict[str, Any]]]:
            found = get_incident(connection, incident_id)
            subjects, _ = open_affected(connection, keys=self.keys, incident_id=found.id)
            self._record(
                connection,
                actor,
                "incident_subjects",
                now=now,
                reason=f"incident {found.id}: {len(subjects)} people listed",
            )
            return subjects

        listed: list[tuple[str, dict[str, Any]]] = self._staff_change(
            "incident_subjects", actor, _OFFICER, change
        )
        return listed

    def incident_proofs(
        self, incident_id: str, *, actor: Actor, event_ids: list[int] | None = None
    ) -> tuple[list[InclusionProof], list[int]]:
        """Inclusion proofs of the incident's events (those asked, or all, up to 1,000).

        Returns the proofs and the events not sealed (yet), which have none.
        """
        require_role(actor, *_READERS)
        if event_ids is not None and len(event_ids) > MAX_PROOFS:
            raise InvalidInput(f"at most {MAX_PROOFS} events at once", field="event")
        with self.database.connect() as connection:
            found = get_incident(connection, incident_id)
            _, events = open_affected(connection, keys=self.keys, incident_id=found.id)
            known = set(events)
            wanted = events[:MAX_PROOFS] if event_ids is None else event_ids
            strangers = [one for one in wanted if one not in known]
            if strangers:
                raise NotFound(f"event {strangers[0]} is not one of the incident's", field="event")
            proofs: list[InclusionProof] = []
            unsealed: list[int] = []
            for event_id in wanted:
                try:
                    proofs.append(prove_inclusion(connection, event_id))
                except NotFound:
                    unsealed.append(event_id)
        return proofs, unsealed

    def contain(
        self,
        incident_id: str,
        *,
        kind: str,
        target: str | None = None,
        note: str = "",
        actor: Actor,
    ) -> Containment:
        """Record a containment step; a token or account is revoked through the usual path."""
        if kind in ("token_revoked", "account_disabled") and not target:
            raise InvalidInput("name the token or account", field="target")
        if target is not None and len(target) > 100:
            raise InvalidInput("target has at most 100 characters", field="target")

        def change(connection: Connection, now: datetime) -> int:
            found = get_incident(connection, incident_id, lock=True)
            if kind == "token_revoked":
                assert target is not None
                name = target.removeprefix(_TOKEN_PREFIX)
                revoke_token(connection, name=name, now=now)
                self._record(connection, actor, "token_revoke", now=now, reason=f"token {name}")
            elif kind == "account_disabled":
                assert target is not None
                accounts.disable_staff(
                    connection,
                    username=target,
                    by=actor,
                    reason=f"incident {found.id}",
                    now=now,
                )
            step = record_containment(
                connection,
                keys=self.keys,
                incident_id=found.id,
                kind=kind,
                target=target,
                note=note,
                recorded_by=actor.name,
                now=now,
            )
            self._record(
                connection, actor, "incident_contain", now=now, reason=f"incident {found.id} {kind}"
            )
            return step

        step: int = self._staff_change("incident_contain", actor, _OFFICER, change)
        with self.database.connect() as connection:
            found = get_incident(connection, incident_id)
            return next(
                one
                for one in containment_of(connection, keys=self.keys, incident_id=found.id)
                if one.id == step
            )

    def close_incident(self, incident_id: str, *, actor: Actor) -> Incident:
        """Close an incident; its records stay in the register."""

        def change(connection: Connection, now: datetime) -> None:
            close_incident(connection, incident_id=incident_id, closed_by=actor.name, now=now)
            self._record(
                connection, actor, "incident_close", now=now, reason=f"incident {incident_id}"
            )

        self._staff_change("incident_close", actor, _OFFICER, change)
        with self.database.connect() as connection:
            return get_incident(connection, incident_id)

    def regulator_report(self, incident_id: str, *, actor: Actor) -> dict[str, Any]:
        """The report to the regulator: items, time, circumstances, measures, contact.

        Preparing it is an audit event (``incident_report``); the first time is kept.
        """

        def change(connection: Connection, now: datetime) -> dict[str, Any]:
            found = get_incident(connection, incident_id, lock=True)
            details = open_details(connection, keys=self.keys, incident_id=found.id)
            steps = containment_of(connection, keys=self.keys, incident_id=found.id)
            if found.reported_at is None:
                connection.execute(
                    update(incidents_table)
                    .where(incidents_table.c.id == found.id)
                    .values(reported_at=now)
                )
            self._record(
                connection, actor, "incident_report", now=now, reason=f"incident {found.id}"
            )
            return self._report_fields(found, details, steps, now)

        report: dict[str, Any] = self._staff_change("incident_report", actor, _OFFICER, change)
        return report

    def _report_fields(
        self,
        found: Incident,
        details: dict[str, Any],
        steps: list[Containment],
        now: datetime,
    ) -> dict[str, Any]:
        policy = self.policy.policy
        officer = policy.privacy_officer
        return {
            "incident_id": found.id,
            "prepared_at": now.isoformat(),
            "controller": {"ko": policy.controller.name.ko, "en": policy.controller.name.en},
            "title": details["title"],
            "items": [
                {
                    "item": name,
                    "label": {"ko": policy.items[name].label.ko, "en": policy.items[name].label.en}
                    if name in policy.items
                    else {"ko": name, "en": name},
                    "people": count,
                }
                for name, count in found.by_item.items()
            ],
            "by_purpose": found.by_purpose,
            "people": found.affected_count,
            "time": {
                "from": found.window_start.isoformat(),
                "to": found.window_end.isoformat(),
                "aware_at": found.aware_at.isoformat(),
                "deadline": found.deadline.isoformat(),
            },
            "circumstances": details["circumstances"],
            "scope": {"actors": details["actors"], "networks": details["networks"]},
            "measures": [step.to_json() for step in steps],
            "notices": found.notices,
            "thresholds": found.thresholds,
            "report_to_regulator": found.report_to_regulator,
            "contact": {
                "name": {"ko": officer.name.ko, "en": officer.name.en},
                "email": officer.email,
                "phone": officer.phone,
            },
            "evidence": {
                "events": found.event_count,
                "sealed_events": found.sealed_event_count,
            },
        }

    # -- notices ------------------------------------------------------------------

    def begin_notices(self, incident_id: str, *, actor: Actor, retry: bool = False) -> NoticeRun:
        """Take the incident's notice lease; the people still to be told, in order."""
        require_role(actor, *_OFFICER)
        check_incident_id(incident_id)
        with self.transaction() as connection:
            found = get_incident(connection, incident_id, lock=True)
            if found.state != "open":
                raise Conflict(
                    "the incident is closed", field="incident_id", code="INCIDENT_CLOSED"
                )
            notice_state.claim_lease(connection, found.id, now=self.clock())
            positions = notice_state.pending_notices(connection, found.id, retry=retry)
            subjects, _ = open_affected(connection, keys=self.keys, incident_id=found.id)
            steps = containment_of(connection, keys=self.keys, incident_id=found.id)
            self._record(
                connection,
                actor,
                "incident_notify",
                reason=f"incident {found.id}: {len(positions)} notices to send",
            )
        pending = [PendingNotice(n, subjects[n][0], subjects[n][1]) for n in positions]
        return NoticeRun(found, steps, pending)

    def notice_done(self, incident_id: str, n: int, *, state: str, actor: Actor) -> None:
        """Record one notice's outcome (sent once accepted, or unreachable); renew the lease."""
        require_role(actor, *_OFFICER)
        if state not in ("sent", "unreachable"):
            raise InvalidInput("state must be sent or unreachable", field="state")
        with self.transaction() as connection:
            now = self.clock()
            notice_state.mark_notice(connection, incident_id, n, state=state, now=now)
            notice_state.renew_lease(connection, incident_id, now=now)

    def end_notices(self, incident_id: str, *, actor: Actor) -> Incident:
        """Let go of the lease; the incident with its notice counts."""
        require_role(actor, *_OFFICER)
        with self.transaction() as connection:
            notice_state.release_lease(connection, incident_id)
            return get_incident(connection, incident_id)

    def check_incident_deadlines(self) -> int:
        """Alert the officer on open incidents with under 24 hours left and notices unsent."""
        with self.transaction() as connection:
            return len(check_deadlines(connection, now=self.clock(), actor=SYSTEM.name))
