"""Containment recorded on an incident: a token revoked, an account closed, keys rotated.

The revocations themselves go through the usual paths (the engine calls them in the
same transaction); this module keeps the record, its note sealed under the incident's
key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from haechi.crypto.keys import KeyProvider
from haechi.errors import Conflict, InvalidInput
from haechi.incidents.register import get_incident
from haechi.incidents.scope import MAX_TEXT, check_text
from haechi.incidents.sealing import incident_aead, open_record, seal_record
from haechi.storage.incidents_tables import incident_containment

__all__ = ["CONTAINMENT_KINDS", "Containment", "containment_of", "record_containment"]

#: what containment records: the first two go through the existing revocation
CONTAINMENT_KINDS = ("token_revoked", "account_disabled", "keys_rotated", "other")


@dataclass(frozen=True)
class Containment:
    """One containment step: what was done, to which token or account, by whom, when."""

    id: int
    kind: str
    target: str | None
    note: str | None
    recorded_by: str
    recorded_at: datetime

    def to_json(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "note": self.note,
            "recorded_by": self.recorded_by,
            "recorded_at": self.recorded_at.isoformat(),
        }


def record_containment(
    connection: Connection,
    *,
    keys: KeyProvider,
    incident_id: str,
    kind: str,
    target: str | None,
    note: str,
    recorded_by: str,
    now: datetime,
) -> int:
    """Record one containment step on an open incident; return its id."""
    if kind not in CONTAINMENT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(CONTAINMENT_KINDS)}", field="kind")
    note = check_text(note, "note", limit=MAX_TEXT)
    incident = get_incident(connection, incident_id, lock=True)
    if incident.state != "open":
        raise Conflict("the incident is closed", field="incident_id", code="INCIDENT_CLOSED")
    result = connection.execute(
        insert(incident_containment).values(
            incident_id=incident.id,
            kind=kind,
            target=target,
            recorded_by=recorded_by,
            recorded_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    step = int(key[0])
    if note:
        aead = incident_aead(connection, keys, incident.id)
        connection.execute(
            update(incident_containment)
            .where(incident_containment.c.id == step)
            .values(note=seal_record(aead, incident.id, f"containment|{step}", note))
        )
    return step


def containment_of(
    connection: Connection, *, keys: KeyProvider, incident_id: str
) -> list[Containment]:
    """Every containment step of an incident, oldest first, notes opened."""
    rows = connection.execute(
        select(incident_containment)
        .where(incident_containment.c.incident_id == incident_id)
        .order_by(incident_containment.c.id)
    ).all()
    aead = incident_aead(connection, keys, incident_id) if any(row.note for row in rows) else None
    steps = []
    for row in rows:
        note = None
        if row.note is not None and aead is not None:
            note = open_record(aead, incident_id, f"containment|{row.id}", bytes(row.note))
        steps.append(
            Containment(
                id=int(row.id),
                kind=row.kind,
                target=row.target,
                note=note,
                recorded_by=row.recorded_by,
                recorded_at=row.recorded_at,
            )
        )
    return steps
