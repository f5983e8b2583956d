"""Benchmark: the quarterly report on a large access log, against raw indexed GROUP BYs.

Bulk-inserts N audit events spread evenly over 2026 (so a quarter holds about N/4), a
few thousand rights requests and destruction certificates, then times, in one run:

- **report**: ``Engine.quarterly_report("2026Q4")`` (every figure, the register, the
  log verification of what is sealed, and its own audit event);
- **raw**: the report's heavy queries as hand-written SQL on the DBAPI connection —
  accesses GROUP BY actor, purpose; downloads; requests and certificates by date.

Median of ``--runs`` runs each; the plans of the event queries are printed to show the
``occurred_at`` index at work.

    python benchmarks/bench_report.py [--events 1000000] [--runs 5]
    python benchmarks/bench_report.py --url postgresql://…/scratch --reset
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import insert, text

from haechi import Actor, Engine, Settings
from haechi.crypto.keys import LocalKeyProvider
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import create_db_engine
from haechi.storage.migrate import upgrade
from haechi.storage.rights_tables import rights_requests
from haechi.storage.tables import (
    audit_events,
    destruction_batches,
    destruction_certificates,
    metadata,
)

console = Console()
OFFICER = Actor(name="officer", kind="staff", purposes=frozenset(), role="privacy_officer")
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
Q4 = (datetime(2026, 9, 30, 15, tzinfo=UTC), datetime(2026, 12, 31, 15, tzinfo=UTC))
RAW = {
    "accesses": "SELECT actor, purpose, count(*), sum(CASE WHEN outcome = 'allowed' THEN 1 "
    "ELSE 0 END) FROM audit_events WHERE occurred_at >= :a AND occurred_at < :b "
    "AND action IN ('download', 'export', 'view') GROUP BY actor, purpose",
    "downloads": "SELECT id, occurred_at, actor, reason FROM audit_events WHERE occurred_at >= :a "
    "AND occurred_at < :b AND action IN ('download', 'export') ORDER BY occurred_at, id "
    "LIMIT 1000",
    "requests": "SELECT count(*), sum(CASE WHEN closed_at <= due_at THEN 1 ELSE 0 END) "
    "FROM rights_requests WHERE closed_at >= :a AND closed_at < :b",
    "destructions": "SELECT count(*), sum(CASE WHEN overdue THEN 1 ELSE 0 END) "
    "FROM destruction_certificates WHERE destroyed_at >= :a AND destroyed_at < :b",
}


def build(database: SqlEngine, events: int) -> float:
    """Bulk-insert the log and the records; return the seconds it took."""
    rng = random.Random(12)
    actors = [f"staff{index}" for index in range(40)]
    purposes = ["service", "marketing", "support"]
    step = timedelta(days=365) / events
    began = time.perf_counter()
    done = 0
    while done < events:
        size = min(20_000, events - done)
        rows = []
        for index in range(done, done + size):
            action = "download" if index % 500 == 0 else "view"
            rows.append(
                {
                    "occurred_at": YEAR + step * index,
                    "actor": rng.choice(actors),
                    "actor_kind": "staff",
                    "source_ip": None,
                    "subject_id": None,
                    "collection_id": None,
                    "action": action,
                    "purpose": rng.choice(purposes),
                    "items": "[]",
                    "reason": "monthly statistics" if action == "download" else None,
                    "outcome": "denied" if index % 97 == 0 else "allowed",
                    "code": None,
                }
            )
        with database.begin() as connection:
            connection.execute(insert(audit_events), rows)
        done += size
    with database.begin() as connection:
        batch = str(uuid.uuid4())
        connection.execute(
            insert(destruction_batches).values(
                id=batch, created_at=YEAR, created_by="system", destroyed=0
            )
        )
        for index in range(4000):
            when = YEAR + timedelta(hours=2 * index)
            connection.execute(
                insert(rights_requests).values(
                    id=str(uuid.uuid4()),
                    kind="access",
                    channel="web",
                    state="closed",
                    requester="subject",
                    purposes="[]",
                    lang="ko",
                    received_at=when,
                    original_due_at=when + timedelta(days=10),
                    due_at=when + timedelta(days=10),
                    closed_at=when + timedelta(days=index % 13),
                    retain_until=when + timedelta(days=1100),
                    created_by="system",
                )
            )
            connection.execute(
                insert(destruction_certificates).values(
                    id=str(uuid.uuid4()),
                    batch_id=batch,
                    collection_id=str(uuid.uuid4()),
                    subject_id=str(uuid.uuid4()),
                    purpose="service",
                    items="[]",
                    method="crypto_shred",
                    reason="expired",
                    due_at=when,
                    destroyed_at=when,
                    overdue=index % 17 == 0,
                )
            )
    return time.perf_counter() - began


def raw_queries(database: SqlEngine) -> float:
    began = time.perf_counter()
    with database.connect() as connection:
        for query in RAW.values():
            connection.execute(text(query), {"a": Q4[0], "b": Q4[1]}).all()
    return time.perf_counter() - began


def plans(database: SqlEngine) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if database.dialect.name == "sqlite" else "EXPLAIN "
    found = []
    with database.connect() as connection:
        for name in ("accesses", "downloads"):
            rows = connection.execute(text(prefix + RAW[name]), {"a": Q4[0], "b": Q4[1]}).all()
            found.append(f"{name}: " + " | ".join(str(row[-1]) for row in rows))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="A scratch PostgreSQL database (default: SQLite).")
    parser.add_argument("--reset", action="store_true", help="Drop every table of --url first.")
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-report-"))
    database = create_db_engine(options.url or f"sqlite:///{directory / 'haechi.db'}")
    if options.reset and options.url:
        with database.begin() as connection:
            metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(database)
    engine = Engine(
        database=database,
        policy=parse_policy(demo_policy_text()),
        keys=LocalKeyProvider(secrets.token_bytes(32)),
        settings=Settings(data_dir=directory),
    )
    built = build(database, options.events)
    console.print(f"built {options.events:,} events in {built:.0f} s ({database.dialect.name})")
    raw, report = [], []
    for _ in range(options.runs):
        raw.append(raw_queries(database))
        began = time.perf_counter()
        figures = engine.quarterly_report("2026Q4", actor=OFFICER)
        report.append(time.perf_counter() - began)
    table = Table(title=f"Quarterly report, {options.events:,} events ({database.dialect.name})")
    for column in ("raw GROUP BYs (s)", "report (s)", "ratio"):
        table.add_column(column, justify="right")
    raw_median, report_median = statistics.median(raw), statistics.median(report)
    table.add_row(f"{raw_median:.3f}", f"{report_median:.3f}", f"{report_median / raw_median:.2f}")
    console.print(table)
    accesses = sum(row["allowed"] + row["denied"] for row in figures.accesses)
    console.print(f"accesses in 2026Q4: {accesses:,}; downloads {figures.downloads['total']:,}")
    for line in plans(database):
        console.print(line, markup=False)


if __name__ == "__main__":
    main()
