"""A crafted installation for the quarterly report: known counts in 2026Q1 (Korean time)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from haechi import Engine
from haechi.audit.events import record_event
from haechi.storage.rights_tables import rights_requests
from haechi.storage.tables import (
    alerts,
    audit_reviews,
    destruction_batches,
    destruction_certificates,
    staff,
    staff_grant_history,
    staff_grants,
)

# 2026Q1 in Seoul: 2025-12-31 15:00 UTC up to 2026-03-31 15:00 UTC.
INSIDE = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
FIRST_SEOUL_HOUR = datetime(2025, 12, 31, 15, 30, tzinfo=UTC)  # 1 Jan 00:30 in Seoul
LAST_UTC_OF_2025 = datetime(2025, 12, 31, 14, 30, tzinfo=UTC)  # still Q4 in Seoul
AFTER = datetime(2026, 4, 2, 0, 0, tzinfo=UTC)


def _id() -> str:
    return str(uuid.uuid4())


def _event(
    connection: Any, when: datetime, actor: str, action: str, purpose: str, **more: Any
) -> None:
    record_event(
        connection,
        now=when,
        actor=actor,
        actor_kind="staff",
        action=action,
        purpose=purpose,
        **more,
    )


def craft(engine: Engine) -> None:
    """Events, requests, destructions, grant changes, alerts and reviews with known counts."""
    with engine.database.begin() as c:
        for _ in range(3):
            _event(c, INSIDE, "kim", "view", "service")
        _event(c, FIRST_SEOUL_HOUR, "kim", "view", "service")
        _event(c, LAST_UTC_OF_2025, "kim", "view", "service")  # outside the quarter
        _event(c, AFTER, "kim", "view", "service")  # outside the quarter
        _event(c, INSIDE, "kim", "view", "marketing", outcome="denied", code="NO_GRANT")
        _event(c, INSIDE, "lee", "view", "marketing")
        _event(c, INSIDE, "lee", "download", "service", reason="<b>month-end</b> " + "x" * 400)
        _event(c, INSIDE, "lee", "export", "service", reason="audit sample")
        _event(c, INSIDE, "lee", "collect", "service")  # not an access
        # Requests: received in the quarter; two answered on time, one late, one open overdue.
        for closed, due in (
            (INSIDE + timedelta(days=3), INSIDE + timedelta(days=10)),
            (INSIDE + timedelta(days=10), INSIDE + timedelta(days=10)),
            (INSIDE + timedelta(days=12), INSIDE + timedelta(days=10)),
            (None, INSIDE + timedelta(days=10)),
        ):
            c.execute(
                insert(rights_requests).values(
                    id=_id(),
                    kind="access" if closed else "deletion",
                    channel="web",
                    state="closed" if closed else "in_progress",
                    requester="subject",
                    purposes="[]",
                    lang="ko",
                    received_at=INSIDE,
                    original_due_at=due,
                    due_at=due,
                    closed_at=closed,
                    retain_until=AFTER + timedelta(days=1000),
                    created_by="system",
                )
            )
        batch = _id()
        c.execute(
            insert(destruction_batches).values(
                id=batch, created_at=INSIDE, created_by="system", destroyed=4
            )
        )
        for overdue, confirmed, when in (
            (False, True, INSIDE),
            (False, False, INSIDE),
            (True, True, INSIDE),
            (True, True, AFTER),  # outside the quarter
        ):
            c.execute(
                insert(destruction_certificates).values(
                    id=_id(),
                    batch_id=batch,
                    collection_id=_id(),
                    subject_id=_id(),
                    purpose="service",
                    items="[]",
                    method="crypto_shred",
                    reason="expired",
                    due_at=when,
                    destroyed_at=when,
                    overdue=overdue,
                    confirmed_by="officer" if confirmed else None,
                    confirmed_at=when if confirmed else None,
                )
            )
        people = {"kim": "handler", "lee": "handler", "park": "handler", "boss": "privacy_officer"}
        ids = {name: _id() for name in people}
        for name, role in people.items():
            c.execute(
                insert(staff).values(
                    id=ids[name],
                    username=name,
                    role=role,
                    password_hash="x",
                    must_change_password=False,
                    created_at=INSIDE,
                    disabled_at=INSIDE if name == "park" else None,
                )
            )
        for name, purpose in (
            ("kim", "service"),
            ("lee", "service"),
            ("lee", "marketing"),
            ("park", "service"),
        ):
            c.execute(
                insert(staff_grants).values(
                    staff_id=ids[name], purpose=purpose, granted_by="boss", granted_at=INSIDE
                )
            )
        for change, when in (
            ("grant", INSIDE),
            ("grant", INSIDE),
            ("revoke", INSIDE),
            ("grant", AFTER),
        ):
            c.execute(
                insert(staff_grant_history).values(
                    occurred_at=when,
                    staff_id=ids["lee"],
                    username="lee",
                    change=change,
                    purpose="service",
                    changed_by="boss",
                    reason="<script>x</script>",
                )
            )
        for rule, month_day, mailed in (
            ("download", 10, True),
            ("off_hours", 10, False),
            ("download", 40, False),
        ):
            raised = datetime(2026, 1, 1, 3, tzinfo=UTC) + timedelta(days=month_day)
            c.execute(
                insert(alerts).values(
                    rule=rule,
                    actor="lee",
                    raised_at=raised,
                    window_start=raised,
                    window_end=raised,
                    detail="{}",
                    mailed_at=raised if mailed else None,
                )
            )
        c.execute(
            insert(audit_reviews).values(
                month="2026-01", reviewer="boss", recorded_at=INSIDE, notes=""
            )
        )
