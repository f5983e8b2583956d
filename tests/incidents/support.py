"""A crafted log for incidents: known people read, refused and read elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from haechi import Engine
from haechi.access.decision import Actor
from haechi.engine import SYSTEM
from haechi.errors import AccessDenied
from haechi.incidents import Incident
from haechi.subjects.service import ConsentEvidence
from tests.conftest import PERSON, FakeClock

__all__ = ["AUDITOR", "HANDLER", "OFFICER", "Crafted", "craft", "open_over"]

OFFICER = Actor(name="officer", kind="staff", purposes=frozenset(), role="privacy_officer")
AUDITOR = Actor(name="auditor", kind="staff", purposes=frozenset(), role="auditor")
HANDLER = Actor(name="handler", kind="staff", purposes=frozenset({"service"}), role="handler")


@dataclass
class Crafted:
    """Who was read by whom: ids of the people."""

    read_by_kim: list[str]
    refused_to_kim: str
    read_from_range: str
    read_outside_window: str
    untouched: str
    start: datetime
    end: datetime


def _person(engine: Engine, n: int, purpose: str = "service") -> str:
    person = dict(PERSON, email=f"person{n}@example.kr", contact=f"010-2345-{6700 + n:04d}")
    return engine.collect(
        purpose=purpose,
        items=person,
        consent=ConsentEvidence(granted=True, method="web-form"),
        actor=SYSTEM,
    ).subject_id


def craft(engine: Engine, clock: FakeClock) -> Crafted:
    """Kim reads two people and is refused a third; 203.0.113.77 reads a fourth."""
    people = [_person(engine, n) for n in range(4)]
    marketing = _person(engine, 9, "marketing")
    untouched = _person(engine, 5)
    kim = Actor(name="kim", kind="staff", purposes=frozenset({"service"}), role="handler")
    lee = Actor(name="lee", kind="staff", purposes=frozenset({"service"}), role="handler")
    clock.advance(hours=1)
    start = clock()
    engine.use(actor=kim, subject_id=people[0], purpose="service", items=["name", "email"])
    engine.use(
        actor=kim,
        subject_id=people[1],
        purpose="service",
        items=["contact"],
        download=True,
        reason="month-end list",
    )
    with pytest.raises(AccessDenied):
        engine.use(actor=kim, subject_id=marketing, purpose="marketing")
    engine.use(
        actor=lee,
        subject_id=people[2],
        purpose="service",
        items=["company"],
        source_ip="203.0.113.77",
    )
    engine.use(actor=lee, subject_id=people[3], purpose="service", source_ip="198.51.100.1")
    clock.advance(hours=1)
    end = clock()
    clock.advance(hours=1)
    engine.use(actor=kim, subject_id=people[3], purpose="service")  # after the window
    return Crafted(
        read_by_kim=sorted(people[:2]),
        refused_to_kim=marketing,
        read_from_range=people[2],
        read_outside_window=people[3],
        untouched=untouched,
        start=start,
        end=end,
    )


def open_over(
    engine: Engine,
    crafted: Crafted,
    clock: FakeClock,
    *,
    actors: tuple[str, ...] = ("kim",),
    networks: tuple[str, ...] = (),
    title: str = "kim's laptop stolen",
    outside_access: bool = False,
) -> Incident:
    """Open an incident over the crafted window, aware now, as the officer."""
    return engine.open_incident(
        title=title,
        aware_at=clock(),
        start=crafted.start,
        end=crafted.end,
        actors=list(actors),
        networks=list(networks),
        outside_access=outside_access,
        actor=OFFICER,
    )
