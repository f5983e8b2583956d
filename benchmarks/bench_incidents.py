"""Benchmark: an incident's affected set over a large access log, against a window scan.

Fills the log with N events spread over 2026 in the database itself (generate_series
on PostgreSQL, a recursive CTE on SQLite): 1,000 staff actors, 200,000 subjects, one
event in a hundred from 203.0.113.0/24 and the rest from 10.0.0.0/8, one in twenty
refused. Then times, in one run, the affected set of three compromised actors and the
/24 over a 90-day window:

- **window scan** (the baseline, what the log's ``occurred_at`` index alone allows):
  every allowed read of the window, the actor and address checked in Python;
- **affected set**: :func:`haechi.incidents.find_affected` through the
  ``(actor, occurred_at)`` and ``(source_ip, occurred_at)`` indexes;
- **open incident**: ``Engine.open_incident`` (the affected set, sealed, one notice
  row per person, and its audit event).

Median of ``--runs`` runs each; the plans of the actor and address queries are printed.

    python benchmarks/bench_incidents.py [--events 1000000] [--runs 3]
    python benchmarks/bench_incidents.py --url postgresql://…/scratch --reset --events 10000000
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text

from haechi import Actor, Engine, Settings
from haechi.crypto.keys import LocalKeyProvider
from haechi.incidents import Scope, check_scope, find_affected
from haechi.incidents.affected import _prefix_range, _reads
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import create_db_engine
from haechi.storage.migrate import upgrade
from haechi.storage.tables import audit_events, metadata

console = Console()
OFFICER = Actor(name="officer", kind="staff", purposes=frozenset(), role="privacy_officer")
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
START, END = datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 6, 30, tzinfo=UTC)
ACTORS = ["staff1", "staff2", "staff3"]
NETWORK = "203.0.113.0/24"
SECONDS = 365 * 86400

# i: the event's number. Times spread evenly over the year; actors, subjects and
# addresses from cheap hashes of i.
_COLUMNS = "occurred_at, actor, actor_kind, source_ip, subject_id, action, purpose, items, outcome"
_POSTGRES = f"""
INSERT INTO audit_events ({_COLUMNS})
SELECT timestamptz '2026-01-01 00:00+00' + (i::float8 * {SECONDS} / :n) * interval '1 second',
       'staff' || ((i * 7919) % 1000),
       'staff',
       CASE WHEN i % 100 = 0 THEN '203.0.113.' || ((i / 100) % 256)
            ELSE '10.' || ((i / 7) % 256) || '.' || ((i / 13) % 256) || '.' || (i % 256) END,
       'subject-' || ((i * 104729) % 200000),
       CASE WHEN i % 50 = 0 THEN 'download' ELSE 'view' END,
       'service',
       '["email", "name"]',
       CASE WHEN i % 20 = 3 THEN 'denied' ELSE 'allowed' END
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
"""
_SQLITE = f"""
WITH RECURSIVE seq(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM seq WHERE i < :last)
INSERT INTO audit_events ({_COLUMNS})
SELECT strftime('%Y-%m-%d %H:%M:%S', '2026-01-01', '+' || (i * {SECONDS} / :n) || ' seconds')
       || '.000000',
       'staff' || ((i * 7919) % 1000),
       'staff',
       CASE WHEN i % 100 = 0 THEN '203.0.113.' || ((i / 100) % 256)
            ELSE '10.' || ((i / 7) % 256) || '.' || ((i / 13) % 256) || '.' || (i % 256) END,
       'subject-' || ((i * 104729) % 200000),
       CASE WHEN i % 50 = 0 THEN 'download' ELSE 'view' END,
       'service',
       '["email", "name"]',
       CASE WHEN i % 20 = 3 THEN 'denied' ELSE 'allowed' END
FROM seq
"""


def build(database: SqlEngine, events: int) -> float:
    """Fill the log in the database; return the seconds it took."""
    statement = text(_POSTGRES if database.dialect.name == "postgresql" else _SQLITE)
    began = time.perf_counter()
    step = 1_000_000
    for first in range(1, events + 1, step):
        last = min(first + step - 1, events)
        with database.begin() as connection:
            connection.execute(statement, {"first": first, "last": last, "n": events})
        console.print(f"  {last:,} events", markup=False)
    with database.begin() as connection:
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - began


def _scope() -> Scope:
    return check_scope(
        title="benchmark",
        aware_at=END,
        start=START,
        end=END,
        actors=ACTORS,
        networks=[NETWORK],
        now=END + timedelta(days=1),
    )


def window_scan(database: SqlEngine) -> int:
    """The baseline: every allowed read of the window, filtered here."""
    network = ipaddress.ip_network(NETWORK)
    wanted = set(ACTORS)
    people: set[str] = set()
    query = text(
        "SELECT actor, source_ip, subject_id FROM audit_events WHERE occurred_at >= :a "
        "AND occurred_at <= :b AND action IN ('download', 'export', 'view') "
        "AND outcome = 'allowed' AND subject_id IS NOT NULL"
    )
    with database.connect() as connection:
        for actor, address, subject in connection.execute(query, {"a": START, "b": END}):
            if actor in wanted or (address and ipaddress.ip_address(address) in network):
                people.add(subject)
    return len(people)


def plans(database: SqlEngine) -> list[str]:
    """The plans of the actor query and of one address prefix's query."""
    scope = _scope()
    base = _reads(scope, by_address=database.dialect.name)
    e = audit_events.c
    prefix_where = _prefix_range("203.0.113.", database.dialect.name)
    queries = {
        "actors": _reads(scope).where(e.actor.in_(ACTORS)),
        "address prefix": base.where(prefix_where),
    }
    found = []
    explain = "EXPLAIN QUERY PLAN " if database.dialect.name == "sqlite" else "EXPLAIN "
    with database.connect() as connection:
        for name, query in queries.items():
            compiled = query.compile(database, compile_kwargs={"literal_binds": True})
            rows = connection.execute(text(explain + str(compiled))).all()
            found.append(f"{name}:\n  " + "\n  ".join(str(row[-1]) for row in rows))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", help="A scratch PostgreSQL database (default: SQLite).")
    parser.add_argument("--reset", action="store_true", help="Drop every table of --url first.")
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-incidents-"))
    database = create_db_engine(options.url or f"sqlite:///{directory / 'haechi.db'}")
    if options.reset and options.url:
        with database.begin() as connection:
            metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(database)
    clock_now = END + timedelta(days=1)
    engine = Engine(
        database=database,
        policy=parse_policy(demo_policy_text()),
        keys=LocalKeyProvider(secrets.token_bytes(32)),
        settings=Settings(data_dir=directory),
        clock=lambda: clock_now,
    )
    built = build(database, options.events)
    console.print(f"built {options.events:,} events in {built:.0f} s ({database.dialect.name})")
    scans, sets, opens = [], [], []
    declared = set(engine.policy.policy.items)
    for _ in range(options.runs):
        began = time.perf_counter()
        baseline_people = window_scan(database)
        scans.append(time.perf_counter() - began)
        began = time.perf_counter()
        with database.connect() as connection:
            affected = find_affected(connection, _scope(), declared_items=declared)
        sets.append(time.perf_counter() - began)
        began = time.perf_counter()
        incident = engine.open_incident(
            title="benchmark",
            aware_at=END,
            start=START,
            end=END,
            actors=ACTORS,
            networks=[NETWORK],
            actor=OFFICER,
        )
        opens.append(time.perf_counter() - began)
    assert len(affected.subjects) == baseline_people == incident.affected_count
    table = Table(
        title=f"Affected set, {options.events:,} events ({database.dialect.name}): "
        f"{len(affected.events):,} events, {len(affected.subjects):,} people"
    )
    for column in ("window scan (s)", "affected set (s)", "open incident (s)", "ratio"):
        table.add_column(column, justify="right")
    scan, found, opened = (statistics.median(values) for values in (scans, sets, opens))
    table.add_row(f"{scan:.3f}", f"{found:.3f}", f"{opened:.3f}", f"{found / scan:.2f}")
    console.print(table)
    for line in plans(database):
        console.print(line, markup=False)


if __name__ == "__main__":
    main()
