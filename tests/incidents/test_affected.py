"""Incidents: the affected set from a crafted log, sealed and frozen with the incident."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Network

import pytest

from haechi import Engine
from haechi.access.decision import Actor
from haechi.engine import SYSTEM
from haechi.errors import InvalidInput, PermissionDenied
from haechi.incidents.affected import ipv4_prefixes
from haechi.subjects.service import ConsentEvidence
from tests.conftest import PERSON, Database, FakeClock, raw_storage
from tests.incidents.support import AUDITOR, HANDLER, OFFICER, craft, open_over


def test_an_actor_incident_finds_exactly_the_people_read(engine: Engine, clock: FakeClock) -> None:
    """It lists the people kim read in the window, not the one kim was refused."""
    crafted = craft(engine, clock)
    incident = open_over(engine, crafted, clock)
    subjects = engine.incident_subjects(incident.id, actor=OFFICER)
    assert sorted(subject for subject, _ in subjects) == crafted.read_by_kim
    assert incident.affected_count == 2
    assert incident.by_purpose == {"service": 2}
    assert incident.by_item == {"contact": 1, "email": 1, "name": 1}
    assert incident.deadline == clock() + timedelta(hours=72)
    assert incident.report_to_regulator is False
    assert incident.notices == {"pending": 2, "sent": 0, "unreachable": 0}
    shown = incident.to_json()
    for key in ("id", "affected_count", "by_purpose", "by_item", "report_to_regulator", "deadline"):
        assert key in shown


def test_a_network_incident_finds_reads_from_the_range(engine: Engine, clock: FakeClock) -> None:
    """An address range finds the reads made from it, whoever made them."""
    crafted = craft(engine, clock)
    incident = open_over(
        engine, crafted, clock, actors=(), networks=("203.0.112.0/20",), outside_access=True
    )
    subjects = engine.incident_subjects(incident.id, actor=OFFICER)
    assert [subject for subject, _ in subjects] == [crafted.read_from_range]
    assert incident.report_to_regulator is True
    assert incident.thresholds["outside_access"] is True


def test_the_affected_list_is_sealed(engine: Engine, clock: FakeClock, database: Database) -> None:
    """No subject id of the list and no title is stored in plaintext."""
    crafted = craft(engine, clock)
    title = "Unmistakable-Title-Of-The-Breach"
    open_over(engine, crafted, clock, title=title)
    if database.backend == "sqlite":
        assert title.encode() not in raw_storage(database)


def test_proofs_for_sealed_events(engine: Engine, clock: FakeClock) -> None:
    """Each event of the incident already sealed has an inclusion proof that verifies."""
    crafted = craft(engine, clock)
    engine.seal_all()
    incident = open_over(engine, crafted, clock)
    assert incident.sealed_event_count == incident.event_count == 2
    proofs, unsealed = engine.incident_proofs(incident.id, actor=AUDITOR)
    assert unsealed == []
    assert len(proofs) == 2
    assert all(proof.verify() for proof in proofs)


def test_bad_inputs_are_named_and_nothing_is_stored(engine: Engine, clock: FakeClock) -> None:
    """Every field at fault is named at once; no incident is opened."""
    now = clock()
    with pytest.raises(InvalidInput) as refused:
        engine.open_incident(
            title="x" * 201,
            aware_at=now + timedelta(hours=1),
            start=now,
            end=now - timedelta(hours=1),
            actors=["a"] * 51,
            networks=["0.0.0.0/0"],
            actor=OFFICER,
        )
    fields = {problem.field for problem in refused.value.faults}
    assert {"title", "aware_at", "to", "actor", "networks[0]"} <= fields
    assert engine.incidents(actor=OFFICER) == []


def test_only_the_officer_opens(engine: Engine, clock: FakeClock) -> None:
    """A handler is refused (and the refusal is logged); an auditor may read the register."""
    now = clock()
    with pytest.raises(PermissionDenied):
        engine.open_incident(
            title="t",
            aware_at=now,
            start=now - timedelta(hours=1),
            end=now,
            actors=["kim"],
            networks=[],
            actor=HANDLER,
        )
    assert engine.events(limit=1)[0].action == "incident_open"
    assert engine.events(limit=1)[0].outcome == "denied"
    assert engine.incidents(actor=AUDITOR) == []


def test_octet_aligned_prefixes_cover_a_network() -> None:
    """A /20 is sixteen /24 prefixes, a /24 one, a /32 the address, a /12 sixteen /16s."""
    assert ipv4_prefixes(IPv4Network("203.0.112.0/20")) == [f"203.0.{n}." for n in range(112, 128)]
    assert ipv4_prefixes(IPv4Network("192.0.2.0/24")) == ["192.0.2."]
    assert ipv4_prefixes(IPv4Network("192.0.2.7/32")) == ["192.0.2.7"]
    assert ipv4_prefixes(IPv4Network("172.16.0.0/12")) == [f"172.{n}." for n in range(16, 32)]


def test_an_ipv6_network_and_a_neighbouring_prefix(engine: Engine, clock: FakeClock) -> None:
    """IPv6 ranges are matched address by address; 203.0.11 is not 203.0.113."""
    crafted = craft(engine, clock)
    [v6_person, near_person] = [
        engine.collect(
            purpose="service",
            items=dict(PERSON, email=f"v{n}@example.kr", contact=f"010-3456-{7000 + n}"),
            consent=ConsentEvidence(granted=True, method="web-form"),
            actor=SYSTEM,
        ).subject_id
        for n in range(2)
    ]
    clock.advance(minutes=1)
    lee = Actor(name="lee", kind="staff", purposes=frozenset({"service"}), role="handler")
    engine.use(actor=lee, subject_id=v6_person, purpose="service", source_ip="2001:db8::5")
    engine.use(actor=lee, subject_id=near_person, purpose="service", source_ip="203.0.11.3")
    clock.advance(minutes=1)
    crafted.end = clock()
    v6 = open_over(engine, crafted, clock, actors=(), networks=("2001:db8::/32",))
    assert [subject for subject, _ in engine.incident_subjects(v6.id, actor=OFFICER)] == [v6_person]
    v4 = open_over(engine, crafted, clock, actors=(), networks=("203.0.113.0/24",))
    assert [subject for subject, _ in engine.incident_subjects(v4.id, actor=OFFICER)] == [
        crafted.read_from_range
    ]


def test_containment_revokes_through_the_usual_path(engine: Engine, clock: FakeClock) -> None:
    """A token named in containment is revoked at once and its revocation logged."""
    crafted = craft(engine, clock)
    incident = open_over(engine, crafted, clock)
    _, secret = engine.create_token(name="crm", purposes=["service"])
    engine.authenticate(secret)
    step = engine.contain(incident.id, kind="token_revoked", target="token:crm", actor=OFFICER)
    assert step.target == "token:crm"
    with pytest.raises(PermissionDenied):
        engine.authenticate(secret)
    assert [event.action for event in engine.events(limit=2)] == [
        "incident_contain",
        "token_revoke",
    ]
    shown = engine.incident(incident.id, actor=AUDITOR)
    assert [one["kind"] for one in shown["containment"]] == ["token_revoked"]


def test_a_refused_listing_of_the_people_is_an_event(engine: Engine, clock: FakeClock) -> None:
    """An auditor may read the register but not the people; the refusal is logged."""
    crafted = craft(engine, clock)
    incident = open_over(engine, crafted, clock)
    assert engine.incident(incident.id, actor=AUDITOR)["affected_count"] == 2
    with pytest.raises(PermissionDenied):
        engine.incident_subjects(incident.id, actor=AUDITOR)
    [event] = engine.events(limit=1)
    assert (event.action, event.outcome, event.actor) == ("incident_subjects", "denied", "auditor")


@pytest.mark.parametrize(
    "title", ["a\x00b", "\ud800", "right\u202eleft", "bell\x07", "x" * 10_000, " \t "]
)
def test_titles_that_cannot_be_kept_are_refused(
    engine: Engine, clock: FakeClock, title: str
) -> None:
    """NUL, lone surrogates, bidi overrides, control characters, huge or blank titles."""
    now = clock()
    with pytest.raises(InvalidInput) as refused:
        engine.open_incident(
            title=title,
            aware_at=now,
            start=now - timedelta(hours=1),
            end=now,
            actors=["kim"],
            networks=[],
            actor=OFFICER,
        )
    assert refused.value.field == "title"
    assert title not in refused.value.message
