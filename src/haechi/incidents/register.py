"""The breach register: incidents, their sealed records, and the deadline.

An incident gets a data key of its own, wrapped by the key provider like a
collection's. Its details (title, circumstances, the actors and networks searched)
and its affected set (each subject with the purposes and items read, and the ids of
the events that show it) are sealed under that key, bound by associated data to the
incident and the record's kind. The plaintext row holds what the register and the
report need without opening anything: counts by purpose and item (policy names),
dates, which reporting criteria are met.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from haechi.crypto.keys import KeyProvider
from haechi.errors import Conflict, NotFound
from haechi.incidents.affected import AffectedSet
from haechi.incidents.scope import Scope
from haechi.incidents.sealing import create_key, incident_aead, open_record, seal_record
from haechi.policy.schema import UNIQUE_IDENTIFIERS, Policy
from haechi.storage.incidents_tables import (
    incident_notices,
    incident_records,
    incidents,
)

__all__ = [
    "MANY_PEOPLE",
    "Incident",
    "close_incident",
    "create_incident",
    "get_incident",
    "list_incidents",
    "open_affected",
    "open_details",
    "thresholds",
]

#: PIPA Decree Art. 40(1): a breach of 1,000 or more people is reported to the regulator
MANY_PEOPLE = 1000
_DETAILS = "details"
_AFFECTED = "affected"
_NOTICE_CHUNK = 1000


@dataclass(frozen=True)
class Incident:
    """An incident as the register shows it (no subject ids, no sealed text)."""

    id: str
    state: str
    opened_at: datetime
    opened_by: str
    aware_at: datetime
    deadline: datetime
    window_start: datetime
    window_end: datetime
    affected_count: int
    event_count: int
    sealed_event_count: int
    by_purpose: dict[str, int]
    by_item: dict[str, int]
    thresholds: dict[str, Any]
    report_to_regulator: bool
    outside_access: bool
    notices: dict[str, int]
    reported_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None

    def to_json(self, *, now: datetime | None = None) -> dict[str, Any]:
        """As JSON; with ``now``, the hours left to the deadline."""
        found: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "opened_at": self.opened_at.isoformat(),
            "opened_by": self.opened_by,
            "aware_at": self.aware_at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "from": self.window_start.isoformat(),
            "to": self.window_end.isoformat(),
            "affected_count": self.affected_count,
            "event_count": self.event_count,
            "sealed_event_count": self.sealed_event_count,
            "by_purpose": self.by_purpose,
            "by_item": self.by_item,
            "thresholds": self.thresholds,
            "report_to_regulator": self.report_to_regulator,
            "outside_access": self.outside_access,
            "notices": self.notices,
            "reported_at": self.reported_at.isoformat() if self.reported_at else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_by": self.closed_by,
        }
        if now is not None:
            found["hours_left"] = round((self.deadline - now).total_seconds() / 3600, 1)
        return found


def thresholds(
    policy: Policy, *, affected: int, by_item: dict[str, int], outside_access: bool
) -> dict[str, Any]:
    """Which of the regulator's criteria the incident meets (Decree Art. 40)."""
    declared = policy.items
    unique = sorted(
        name
        for name in by_item
        if name in declared
        and declared[name].format is not None
        and declared[name].format in UNIQUE_IDENTIFIERS
    )
    sensitive = sorted(name for name in by_item if name in declared and declared[name].sensitive)
    return {
        "people": affected,
        "many_people": affected >= MANY_PEOPLE,
        "many_people_from": MANY_PEOPLE,
        "unique_identifiers": unique,
        "sensitive_items": sensitive,
        "outside_access": outside_access,
    }


def create_incident(
    connection: Connection,
    *,
    keys: KeyProvider,
    policy: Policy,
    scope: Scope,
    affected: AffectedSet,
    opened_by: str,
    now: datetime,
) -> str:
    """Store a new incident with its sealed records and one pending notice per person."""
    incident_id = str(uuid.uuid4())
    by_purpose, by_item = affected.by_purpose(), affected.by_item()
    met = thresholds(
        policy,
        affected=len(affected.subjects),
        by_item=by_item,
        outside_access=scope.outside_access,
    )
    report = bool(
        met["many_people"]
        or met["unique_identifiers"]
        or met["sensitive_items"]
        or met["outside_access"]
    )
    connection.execute(
        insert(incidents).values(
            id=incident_id,
            state="open",
            opened_at=now,
            opened_by=opened_by,
            aware_at=scope.aware_at,
            deadline_at=scope.deadline,
            window_start=scope.start,
            window_end=scope.end,
            affected_count=len(affected.subjects),
            event_count=len(affected.events),
            sealed_event_count=affected.sealed,
            by_purpose=json.dumps(by_purpose),
            by_item=json.dumps(by_item),
            thresholds=json.dumps(met),
            report_to_regulator=report,
            outside_access=scope.outside_access,
        )
    )
    aead = create_key(connection, keys=keys, incident_id=incident_id)
    details = {
        "title": scope.title,
        "circumstances": scope.circumstances,
        "actors": list(scope.actors),
        "networks": [str(network) for network in scope.networks],
    }
    ordered = sorted(affected.subjects)
    listing = {
        "subjects": [[subject, affected.subjects[subject].to_json()] for subject in ordered],
        "events": affected.events,
    }
    connection.execute(
        insert(incident_records),
        [
            {
                "incident_id": incident_id,
                "kind": _DETAILS,
                "sealed": seal_record(aead, incident_id, _DETAILS, details),
            },
            {
                "incident_id": incident_id,
                "kind": _AFFECTED,
                "sealed": seal_record(aead, incident_id, _AFFECTED, listing),
            },
        ],
    )
    for start in range(0, len(ordered), _NOTICE_CHUNK):
        connection.execute(
            insert(incident_notices),
            [
                {"incident_id": incident_id, "n": n, "state": "pending"}
                for n in range(start, min(start + _NOTICE_CHUNK, len(ordered)))
            ],
        )
    return incident_id


def _record(connection: Connection, keys: KeyProvider, incident_id: str, kind: str) -> Any:
    aead = incident_aead(connection, keys, incident_id)
    sealed = connection.execute(
        select(incident_records.c.sealed).where(
            incident_records.c.incident_id == incident_id, incident_records.c.kind == kind
        )
    ).scalar_one()
    return open_record(aead, incident_id, kind, bytes(sealed))


def open_details(connection: Connection, *, keys: KeyProvider, incident_id: str) -> dict[str, Any]:
    """The title, circumstances, actors and networks of an incident, opened."""
    found: dict[str, Any] = _record(connection, keys, incident_id, _DETAILS)
    return found


def open_affected(
    connection: Connection, *, keys: KeyProvider, incident_id: str
) -> tuple[list[tuple[str, dict[str, Any]]], list[int]]:
    """The frozen affected list (subject, what was read), in notice order, and the events."""
    found = _record(connection, keys, incident_id, _AFFECTED)
    return [(subject, reads) for subject, reads in found["subjects"]], list(found["events"])


def _notice_counts(connection: Connection, ids: list[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {
        one: {"pending": 0, "sent": 0, "unreachable": 0} for one in ids
    }
    if not ids:
        return counts
    rows = connection.execute(
        select(incident_notices.c.incident_id, incident_notices.c.state, func.count())
        .where(incident_notices.c.incident_id.in_(ids))
        .group_by(incident_notices.c.incident_id, incident_notices.c.state)
    )
    for incident_id, state, count in rows:
        counts[incident_id][state] = int(count)
    return counts


def _to_incident(row: Any, notices: dict[str, int]) -> Incident:
    return Incident(
        id=row.id,
        state=row.state,
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        aware_at=row.aware_at,
        deadline=row.deadline_at,
        window_start=row.window_start,
        window_end=row.window_end,
        affected_count=int(row.affected_count),
        event_count=int(row.event_count),
        sealed_event_count=int(row.sealed_event_count),
        by_purpose=json.loads(row.by_purpose),
        by_item=json.loads(row.by_item),
        thresholds=json.loads(row.thresholds),
        report_to_regulator=bool(row.report_to_regulator),
        outside_access=bool(row.outside_access),
        notices=notices,
        reported_at=row.reported_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
    )


def check_incident_id(incident_id: str) -> str:
    """``incident_id`` if it has the shape of one (checked before any query)."""
    try:
        return str(uuid.UUID(incident_id)) if len(incident_id) == 36 else _bad_id()
    except ValueError:
        return _bad_id()


def _bad_id() -> str:
    raise NotFound("no such incident", field="incident_id", code="INCIDENT_NOT_FOUND")


def get_incident(connection: Connection, incident_id: str, *, lock: bool = False) -> Incident:
    """One incident, or NotFound."""
    query = select(incidents).where(incidents.c.id == check_incident_id(incident_id))
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise NotFound("no such incident", field="incident_id", code="INCIDENT_NOT_FOUND")
    return _to_incident(row, _notice_counts(connection, [row.id])[row.id])


def list_incidents(
    connection: Connection, *, open_only: bool = False, limit: int = 500
) -> list[Incident]:
    """Incidents, newest first."""
    query = select(incidents).order_by(incidents.c.opened_at.desc(), incidents.c.id).limit(limit)
    if open_only:
        query = query.where(incidents.c.state == "open")
    rows = connection.execute(query).all()
    counts = _notice_counts(connection, [row.id for row in rows])
    return [_to_incident(row, counts[row.id]) for row in rows]


def close_incident(
    connection: Connection, *, incident_id: str, closed_by: str, now: datetime
) -> None:
    """Close an open incident (its records stay)."""
    incident = get_incident(connection, incident_id, lock=True)
    if incident.state != "open":
        raise Conflict("the incident is closed", field="incident_id", code="INCIDENT_CLOSED")
    connection.execute(
        update(incidents)
        .where(incidents.c.id == incident.id)
        .values(state="closed", closed_at=now, closed_by=closed_by)
    )
