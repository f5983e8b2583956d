"""Benchmark: the access export of one subject among many collections, beside a large log.

Builds an installation on the demo policy: a few target subjects collected for real
through ``Engine.collect`` (each with a collection per purpose), then filler subjects,
collections, data keys, sealed items and consents written by bulk inserts (sealed
values are copies of one real sealed row per item: they fill pages, nobody opens them),
and an audit log of random events spread over every subject (executemany on SQLite,
COPY on PostgreSQL). Then, in the same run and alternating call by call:

- **export**: ``Engine.export_subject(actor=…, subject_id=…)`` for a random target
  (reported as absent when this branch has no such method);
- **raw selects**: the same rows by indexed selects on the DBAPI cursor (collections,
  items with their wrapped keys, consents, holds, destruction certificates, separated
  items, and the subject's audit events — "who accessed my data");
- **raw selects + open**: the same, with every data key unwrapped and every item
  opened (the crypto an export cannot skip).

It prints p50 and p99 of each, the ratio export / raw selects (target p99 ≤ 3×), and
the query plan of the "who accessed my data" query.

    python benchmarks/bench_export.py [--collections 30000] [--events 300000]
    python benchmarks/bench_export.py --backend postgresql --url postgresql://… --reset \
        --collections 100000 --events 10000000
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import select, text

from haechi import Actor, ConsentEvidence, Engine, Settings
from haechi.crypto.envelope import item_context
from haechi.crypto.epochs import Store
from haechi.crypto.keys import LocalKeyProvider
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import create_db_engine
from haechi.storage.keyring import open_data_key
from haechi.storage.migrate import upgrade
from haechi.storage.tables import collections, data_keys, items, metadata

console = Console(width=110)
PURPOSES = ["service", "complaints", "marketing"]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OFFICER = Actor(
    name="bench-officer",
    kind="staff",
    purposes=frozenset(),
    all_purposes=True,
    role="privacy_officer",
)
ACTIONS = ["view", "view", "view", "collect", "lookup", "download", "view_collection"]
ACTORS = [f"handler{n:02d}" for n in range(40)]


def person(index: int) -> dict[str, str]:
    return {
        "name": f"대상자{index:04d}",
        "contact": f"010-77{index // 100:02d}-{index % 10000:04d}",
        "email": f"target{index}@example.kr",
        "company": "측정상사",
        "department": "품질팀",
        "title": "과장",
    }


# -- building ---------------------------------------------------------------------


class Loader:
    """Bulk inserts on the raw DBAPI connection: executemany (SQLite) or COPY (PostgreSQL)."""

    def __init__(self, database: SqlEngine):
        self.database = database
        self.postgres = database.dialect.name == "postgresql"

    def moment(self, value: datetime) -> Any:
        # What UtcDateTime stores: naive UTC text on SQLite, timestamptz on PostgreSQL.
        if self.postgres:
            return value
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def flag(self, value: bool) -> Any:
        return value if self.postgres else int(value)

    def load(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        raw = self.database.raw_connection()
        try:
            cursor = raw.cursor()
            if self.postgres:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                )
            raw.commit()
        finally:
            raw.close()


def open_engine(args: argparse.Namespace, directory: Path) -> Engine:
    if args.backend == "sqlite":
        url = f"sqlite:///{directory / 'haechi.db'}"
    else:
        if not args.url:
            raise SystemExit("--backend postgresql needs --url")
        url = args.url
    database = create_db_engine(url)
    upgrade(database)
    with database.connect() as connection:
        used = connection.execute(select(collections.c.id).limit(1)).first()
    if used is not None:
        if not args.reset:
            raise SystemExit("the database already holds collections; pass --reset to empty it")
        names = ", ".join(table.fullname for table in metadata.sorted_tables)
        with database.begin() as connection:
            if database.dialect.name == "postgresql":
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return Engine(
        database=database,
        policy=parse_policy(demo_policy_text()),
        keys=LocalKeyProvider(secrets.token_bytes(32)),
        settings=Settings(data_dir=directory),
        clock=lambda: START,
    )


def collect_targets(engine: Engine, count: int) -> list[str]:
    consent = ConsentEvidence(granted=True, method="web-form")
    subjects: list[str] = []
    for index in range(count):
        for purpose in PURPOSES:
            result = engine.collect(
                purpose=purpose, items=person(index), consent=consent, actor=SYSTEM
            )
        subjects.append(result.subject_id)
    return subjects


def chunks(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(total, start + size))


def fill_collections(engine: Engine, loader: Loader, total: int) -> list[str]:
    """Filler subjects with a collection per purpose, sealed rows copied from a real one."""
    with engine.database.connect() as connection:
        template = connection.execute(
            select(items.c.name, items.c.sealed)
            .join(collections, collections.c.id == items.c.collection_id)
            .where(collections.c.purpose == "service")
            .limit(6)
        ).all()
        wrapped = connection.execute(select(data_keys.c.wrapped).limit(1)).scalar_one()
    policy = engine.policy.version_id
    subjects: list[str] = []
    now, expires = loader.moment(START), loader.moment(START + timedelta(days=365))
    started = time.perf_counter()
    for block in chunks(total // len(PURPOSES), 20_000):
        people = [str(uuid.uuid4()) for _ in block]
        subjects.extend(people)
        rows: dict[str, list[tuple[Any, ...]]] = {
            "subjects": [],
            "collections": [],
            "data_keys": [],
            "items": [],
            "consents": [],
        }
        for subject_id in people:
            rows["subjects"].append((subject_id, now))
            for purpose in PURPOSES:
                collection_id = str(uuid.uuid4())
                rows["collections"].append(
                    (collection_id, subject_id, purpose, "active", policy, loader.flag(True),
                     now, now, expires, "api", expires, 0)
                )  # fmt: skip
                rows["data_keys"].append((collection_id, "bench", wrapped))
                rows["items"].extend((collection_id, name, sealed) for name, sealed in template)
                rows["consents"].append(
                    (str(uuid.uuid4()), subject_id, collection_id, purpose, loader.flag(True),
                     "web-form", policy, now)
                )  # fmt: skip
        loader.load("subjects", ["id", "created_at"], rows["subjects"])
        loader.load(
            "collections",
            ["id", "subject_id", "purpose", "state", "policy_version", "consented",
             "collected_at", "updated_at", "expires_at", "channel", "due_at", "key_version"],
            rows["collections"],
        )  # fmt: skip
        loader.load("data_keys", ["collection_id", "key_id", "wrapped"], rows["data_keys"])
        loader.load("items", ["collection_id", "name", "sealed"], rows["items"])
        loader.load(
            "consents",
            ["id", "subject_id", "collection_id", "purpose", "granted", "method",
             "policy_version", "recorded_at"],
            rows["consents"],
        )  # fmt: skip
        console.print(
            f"  collections {len(subjects) * 3:,} ({time.perf_counter() - started:.0f} s)",
            highlight=False,
        )
    return subjects


def fill_events(loader: Loader, subjects: list[str], total: int, rng: random.Random) -> None:
    columns = ["occurred_at", "actor", "actor_kind", "source_ip", "subject_id", "action",
               "purpose", "items", "outcome"]  # fmt: skip
    started = time.perf_counter()
    for block in chunks(total, 200_000):
        rows = [
            (
                loader.moment(START + timedelta(seconds=index)),
                rng.choice(ACTORS),
                "staff",
                "10.0.0.7",
                rng.choice(subjects),
                rng.choice(ACTIONS),
                rng.choice(PURPOSES),
                '["email","name"]',
                "allowed",
            )
            for index in block
        ]
        loader.load("audit_events", columns, rows)
        console.print(
            f"  events {block.stop:,} ({time.perf_counter() - started:.0f} s)", highlight=False
        )


# -- measuring --------------------------------------------------------------------

_RAW = {
    "collections": "SELECT id, purpose, state, policy_version, consented, collected_at, "
    "expires_at, due_at, hold_until, key_version FROM collections WHERE subject_id = {p}",
    "items": "SELECT c.id, c.key_version, k.key_id, k.wrapped, i.name, i.sealed FROM collections c "
    "JOIN data_keys k ON k.collection_id = c.id JOIN items i ON i.collection_id = c.id "
    "WHERE c.subject_id = {p}",
    "separated": "SELECT c.id, s.name FROM collections c "
    "JOIN haechi_separated.separated_items s ON s.collection_id = c.id WHERE c.subject_id = {p}",
    "consents": "SELECT purpose, granted, method, policy_version, recorded_at FROM consents "
    "WHERE subject_id = {p}",
    "holds": "SELECT h.collection_id, h.reason, h.placed_at, h.released_at FROM holds h "
    "JOIN collections c ON c.id = h.collection_id WHERE c.subject_id = {p}",
    "certificates": "SELECT d.id, d.items, d.method, d.destroyed_at FROM "
    "destruction_certificates d JOIN collections c ON c.id = d.collection_id "
    "WHERE c.subject_id = {p}",
    "accessed": "SELECT occurred_at, actor, actor_kind, action, purpose, items, outcome "
    "FROM audit_events WHERE subject_id = {p} ORDER BY id",
}


def raw_reader(engine: Engine, *, open_items: bool) -> Callable[[str], int]:
    """A function reading one subject's rows by indexed selects; returns rows read."""
    placeholder = "%s" if engine.database.dialect.name == "postgresql" else "?"
    statements = [sql.format(p=placeholder) for sql in _RAW.values()]
    raw = engine.database.raw_connection()
    keys = engine.keys

    def read(subject_id: str) -> int:
        cursor = raw.cursor()
        count = 0
        for sql in statements:
            cursor.execute(sql, (subject_id,))
            rows = cursor.fetchall()
            count += len(rows)
            if open_items and sql is statements[1]:
                opened: dict[str, AESGCM] = {}
                for collection_id, version, key_id, wrapped, name, sealed in rows:
                    if collection_id not in opened:
                        key = open_data_key(
                            keys,
                            store=Store.MAIN,
                            key_id=key_id,
                            wrapped=bytes(wrapped),
                            collection_id=collection_id,
                        )
                        opened[collection_id] = AESGCM(key)
                    sealed = bytes(sealed)
                    context = item_context(collection_id, name, version=version)
                    opened[collection_id].decrypt(sealed[:12], sealed[12:], context)
        raw.commit()  # end the read transaction, as an export's would end
        return count

    return read


def percentile(values: list[float], point: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[point - 1]


def explain(engine: Engine, subject_id: str) -> list[str]:
    sql = _RAW["accessed"].format(p=":subject_id")
    with engine.database.connect() as connection:
        if engine.database.dialect.name == "sqlite":
            rows = connection.execute(text("EXPLAIN QUERY PLAN " + sql), {"subject_id": subject_id})
            return [str(row[-1]) for row in rows]
        rows = connection.execute(text("EXPLAIN " + sql), {"subject_id": subject_id})
        return [str(row[0]) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", help="PostgreSQL URL (its Haechi tables are emptied)")
    parser.add_argument("--reset", action="store_true", help="empty a database already used")
    parser.add_argument("--collections", type=int, default=30_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(20261201)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(args, Path(tmp))
        loader = Loader(engine.database)
        console.print(f"building on {args.backend}…")
        targets = collect_targets(engine, args.targets)
        subjects = fill_collections(engine, loader, args.collections - 3 * args.targets)
        fill_events(loader, subjects + targets, args.events, rng)
        with engine.database.begin() as connection:
            connection.execute(text("ANALYZE"))
        export = getattr(engine, "export_subject", None)
        selects = raw_reader(engine, open_items=False)
        opening = raw_reader(engine, open_items=True)
        times: dict[str, list[float]] = {"export": [], "raw selects": [], "raw + open": []}
        for subject_id in targets:  # warm every side
            selects(subject_id)
            opening(subject_id)
            if export is not None:
                export(actor=OFFICER, subject_id=subject_id)
        measures: list[tuple[str, Callable[[str], Any]]] = [
            ("raw selects", selects),
            ("raw + open", opening),
        ]
        if export is not None:
            measures.append(("export", lambda sid: export(actor=OFFICER, subject_id=sid)))
        rows_read = sum(selects(subject_id) for subject_id in targets) // len(targets)
        for _ in range(args.calls):
            subject_id = rng.choice(targets)
            rng.shuffle(measures)  # no side always runs first, on a cold cache
            for name, measure in measures:
                started = time.perf_counter()
                measure(subject_id)
                times[name].append(time.perf_counter() - started)
        plan = explain(engine, targets[0])
        engine.close()
    console.print(
        f"access export — {args.backend}, {args.collections:,} collections, "
        f"{args.events:,} events, {args.calls} calls, {rows_read} rows per subject",
        highlight=False,
    )
    table = Table()
    table.add_column("what")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    for name, values in times.items():
        if values:
            table.add_row(
                name, f"{percentile(values, 50) * 1e3:.2f}", f"{percentile(values, 99) * 1e3:.2f}"
            )
        else:
            table.add_row(name, "absent", "absent")
    verdict = ""
    if times["export"]:
        p50, p99 = (
            percentile(times["export"], point) / percentile(times["raw selects"], point)
            for point in (50, 99)
        )
        table.add_row("ratio export / raw selects", f"{p50:.2f}×", f"{p99:.2f}×")
        verdict = f"target p99 ≤ 3×: {'met' if p99 <= 3 else 'not met'}"
    console.print(table)
    if verdict:
        console.print(verdict)
    if not times["export"]:
        console.print(
            "Engine.export_subject is absent on this branch: the export was not measured."
        )
    console.print("'who accessed my data' plan:")
    for line in plan:
        console.print("  " + line, highlight=False, markup=False)


if __name__ == "__main__":
    main()
