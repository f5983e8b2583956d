"""Benchmark: Haechi's use() against the least any sealed, logged read can do.

Fills an SQLite installation with N subjects on the demo policy through
``Engine.collect`` (reporting its throughput), then times random ``Engine.use`` calls
in-process. The baseline, measured in the same run, is raw ``sqlite3`` on its own file
with the same pragmas: select one sealed row by key, AES-256-GCM-decrypt it, insert one
log row, commit. Rounds alternate between the two; medians are reported.

Two raw ``sqlite3`` rows beside them, also without Haechi's code: Haechi's own schema
and crypto work (the floor of the design as it is), and the same work on a design with
one AEAD ciphertext per collection holding all its items (the floor of that design),
which tells what changing the storage would buy.

    python benchmarks/bench_use.py [--subjects 100000] [--calls 2000] [--rounds 7]

With ``--collect`` it times ``Engine.collect`` alone instead: after ``--subjects``
collections, rounds of ``--calls`` collections of new people alternating with rounds
re-collecting people already on file (new values for the same purpose), each call
timed; medians of the rounds' means, and percentiles over every call.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from haechi import Actor, ConsentEvidence, Engine, Settings
from haechi.crypto.epochs import Store
from haechi.crypto.keys import LocalKeyProvider
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import create_db_engine
from haechi.storage.keyring import open_data_key
from haechi.storage.migrate import upgrade
from haechi.storage.prepared import PreparedStatement
from haechi.storage.tables import data_keys
from haechi.subjects.reads import _read_statement

console = Console()
PURPOSES = ["service", "complaints", "marketing"]


def person(index: int) -> dict[str, str]:
    return {
        "name": f"이용자{index:06d}",
        "contact": f"010-{1000 + index // 10000:04d}-{index % 10000:04d}",
        "email": f"user{index}@example.kr",
        "company": f"회사 {index % 977}",
        "department": f"부서 {index % 31}",
        "title": "매니저",
    }


def build_haechi(directory: Path, subjects: int) -> tuple[Engine, list[tuple[str, str]], float]:
    url = f"sqlite:///{directory / 'haechi.db'}"
    database = create_db_engine(url)
    upgrade(database)
    engine = Engine(
        database=database,
        policy=parse_policy(demo_policy_text()),
        keys=LocalKeyProvider(secrets.token_bytes(32)),
        settings=Settings(data_dir=directory),
    )
    consent = ConsentEvidence(granted=True, method="web-form")
    targets: list[tuple[str, str]] = []
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("collect()", total=subjects)
        for index in range(subjects):
            purpose = PURPOSES[index % len(PURPOSES)]
            result = engine.collect(
                purpose=purpose, items=person(index), consent=consent, actor=SYSTEM
            )
            targets.append((result.subject_id, purpose))
            if index % 500 == 0:
                progress.update(task, completed=index)
    return engine, targets, time.perf_counter() - started


def build_baseline(directory: Path, subjects: int) -> tuple[sqlite3.Connection, AESGCM, list[str]]:
    connection = sqlite3.connect(directory / "baseline.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "secure_delete=ON"):
        connection.execute(f"PRAGMA {pragma}")
    connection.execute("CREATE TABLE sealed (id TEXT PRIMARY KEY, value BLOB NOT NULL)")
    connection.execute(
        "CREATE TABLE log (seq INTEGER PRIMARY KEY, at TEXT, actor TEXT, subject TEXT, "
        "purpose TEXT, items TEXT, outcome TEXT)"
    )
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    ids = [f"{index:036d}" for index in range(subjects)]
    connection.execute("BEGIN")
    for index, key in enumerate(ids):
        nonce = os.urandom(12)
        value = nonce + aead.encrypt(nonce, json.dumps(person(index)).encode(), key.encode())
        connection.execute("INSERT INTO sealed VALUES (?, ?)", (key, value))
    connection.execute("COMMIT")
    return connection, aead, ids


def time_haechi(
    engine: Engine, targets: list[tuple[str, str]], calls: int, rng: random.Random
) -> float:
    actor = Actor(name="bench", kind="token", purposes=frozenset(PURPOSES))
    chosen = [rng.choice(targets) for _ in range(calls)]
    started = time.perf_counter()
    for subject_id, purpose in chosen:
        engine.use(actor=actor, subject_id=subject_id, purpose=purpose)
    return (time.perf_counter() - started) / calls


def time_baseline(
    connection: sqlite3.Connection, aead: AESGCM, ids: list[str], calls: int, rng: random.Random
) -> float:
    chosen = [rng.choice(ids) for _ in range(calls)]
    started = time.perf_counter()
    for key in chosen:
        connection.execute("BEGIN IMMEDIATE")
        (value,) = connection.execute("SELECT value FROM sealed WHERE id = ?", (key,)).fetchone()
        json.loads(aead.decrypt(value[:12], value[12:], key.encode()))
        connection.execute(
            "INSERT INTO log (at, actor, subject, purpose, items, outcome) VALUES (?,?,?,?,?,?)",
            (time.time(), "bench", key, "service", "[]", "allowed"),
        )
        connection.execute("COMMIT")
    return (time.perf_counter() - started) / calls


def time_same_schema(
    engine: Engine, targets: list[tuple[str, str]], calls: int, rng: random.Random
) -> float:
    """Raw sqlite3 doing Haechi's own database and crypto work, without Haechi.

    Same file, same statements: the collection with its wrapped key and six sealed
    items, the key unwrapped and every item opened, one audit row, commit. The gap
    between this and use() is Haechi's own cost (pool, decision, logging, types).
    """

    def open_items(rows: list[tuple[Any, ...]]) -> None:
        collection_id = rows[0][0]
        aead = AESGCM(_data_key(engine, rows[0]))
        for row in rows:
            context = f"haechi-item|{collection_id}|{row[7]}".encode()
            aead.decrypt(row[8][:12], row[8][12:], context).decode()

    return _time_raw(engine, engine._reader._read.sql, open_items, targets, calls, rng)


def _time_raw(
    engine: Engine,
    read_sql: str,
    open_rows: Callable[[list[tuple[Any, ...]]], None],
    targets: list[tuple[str, str]],
    calls: int,
    rng: random.Random,
) -> float:
    """Seconds per raw read on Haechi's file: ``read_sql``, ``open_rows``, the audit row."""
    log_sql = engine._reader._log.sql  # the statement use() runs, compiled for SQLite
    connection = sqlite3.connect(engine.database.url.database, isolation_level=None)
    for pragma in ("synchronous=NORMAL", "secure_delete=ON", "mmap_size=268435456"):
        connection.execute(f"PRAGMA {pragma}")
    chosen = [rng.choice(targets) for _ in range(calls)]
    started = time.perf_counter()
    for subject_id, purpose in chosen:
        connection.execute("BEGIN IMMEDIATE")
        rows = connection.execute(read_sql, (subject_id, purpose)).fetchall()
        open_rows(rows)
        connection.execute(
            log_sql,
            (
                time.time(),
                "bench",
                "token",
                None,
                subject_id,
                rows[0][0],
                "view",
                purpose,
                "[]",
                None,
                "allowed",
                None,
            ),
        ).fetchall()
        connection.execute("COMMIT")
    elapsed = (time.perf_counter() - started) / calls
    connection.close()
    return elapsed


def time_collect(engine: Engine, people: range, purposes: list[str]) -> list[float]:
    """Seconds per ``Engine.collect`` call, one per person of ``people``."""
    consent = ConsentEvidence(granted=True, method="web-form")
    took: list[float] = []
    for index in people:
        items = person(index)
        purpose = purposes[index % len(purposes)]
        started = time.perf_counter()
        engine.collect(purpose=purpose, items=items, consent=consent, actor=SYSTEM)
        took.append(time.perf_counter() - started)
    return took


def collect_main(args: argparse.Namespace) -> None:
    """``--collect``: new people and re-collections, alternating rounds."""
    with tempfile.TemporaryDirectory() as tmp:
        engine, _, _ = build_haechi(Path(tmp), args.subjects)
        fresh: list[list[float]] = []
        again: list[list[float]] = []
        rng = random.Random(20261201)
        next_person = args.subjects
        for _ in range(args.rounds):
            people = range(next_person, next_person + args.calls)
            fresh.append(time_collect(engine, people, PURPOSES))
            next_person += args.calls
            start = rng.randrange(max(1, args.subjects - args.calls))
            again.append(time_collect(engine, range(start, start + args.calls), PURPOSES))
        engine.close()
    table = Table(
        title=f"collect() on SQLite after {args.subjects:,} subjects, "
        f"{args.rounds} rounds of {args.calls:,} calls"
    )
    for column in ("what", "µs/call (median round)", "ops/s", "p50 µs", "p99 µs"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for label, rounds in (("new person", fresh), ("re-collection", again)):
        mean = statistics.median(statistics.fmean(r) for r in rounds) * 1e6
        every = sorted(t for r in rounds for t in r)
        p50, p99 = (every[int(len(every) * q)] * 1e6 for q in (0.5, 0.99))
        table.add_row(label, f"{mean:.1f}", f"{1e6 / mean:,.0f}", f"{p50:.0f}", f"{p99:.0f}")
    console.print(table)


# One sealed value per collection: all its items, canonical JSON (keys sorted), sealed
# under the collection's data key and bound to the collection id and key version.
_ONE_SEALED = sa.Table(
    "bench_one_sealed",
    sa.MetaData(),
    sa.Column("collection_id", sa.String, primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("sealed", sa.LargeBinary),
)


def build_one_sealed(engine: Engine, targets: list[tuple[str, str]]) -> str:
    """Write every target collection's items as one ciphertext; the read's SQL for it.

    The table sits in Haechi's file beside ``items`` (clustered by collection, as
    ``items`` is); the read is Haechi's own SELECT with that table instead of ``items``.
    """
    reader = engine._reader
    connection = sqlite3.connect(engine.database.url.database, isolation_level=None)
    connection.execute(
        "CREATE TABLE bench_one_sealed (collection_id TEXT PRIMARY KEY, name TEXT, "
        "sealed BLOB NOT NULL) WITHOUT ROWID"
    )
    connection.execute("BEGIN")
    for subject_id, purpose in targets:
        rows = connection.execute(reader._read.sql, (subject_id, purpose)).fetchall()
        collection_id, version = rows[0][0], rows[0][12]
        aead = AESGCM(_data_key(engine, rows[0]))
        values = {
            row[7]: aead.decrypt(
                row[8][:12], row[8][12:], f"haechi-item|{collection_id}|{row[7]}".encode()
            ).decode()
            for row in rows
        }
        nonce = os.urandom(12)
        plain = json.dumps(values, sort_keys=True, ensure_ascii=False).encode()
        context = f"haechi-collection|{collection_id}|{version}".encode()
        connection.execute(
            "INSERT INTO bench_one_sealed VALUES (?, '*', ?)",
            (collection_id, nonce + aead.encrypt(nonce, plain, context)),
        )
    connection.execute("COMMIT")
    connection.close()
    statement = _read_statement(data_keys, _ONE_SEALED)
    return PreparedStatement(statement, engine.database.dialect).sql


def _data_key(engine: Engine, row: tuple[object, ...]) -> bytes:
    return open_data_key(
        engine.keys,
        store=Store.MAIN,
        key_id=str(row[13]),
        wrapped=bytes(row[6]),  # type: ignore[arg-type]
        collection_id=str(row[0]),
    )


def time_one_sealed(
    engine: Engine, read_sql: str, targets: list[tuple[str, str]], calls: int, rng: random.Random
) -> float:
    """:func:`time_same_schema` on one ciphertext per collection: one row, one decryption."""

    def open_one(rows: list[tuple[Any, ...]]) -> None:
        collection_id, version, sealed = rows[0][0], rows[0][12], rows[0][8]
        aead = AESGCM(_data_key(engine, rows[0]))
        context = f"haechi-collection|{collection_id}|{version}".encode()
        json.loads(aead.decrypt(sealed[:12], sealed[12:], context))

    return _time_raw(engine, read_sql, open_one, targets, calls, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--collect", action="store_true", help="time collect() alone")
    args = parser.parse_args()
    if args.collect:
        collect_main(args)
        return
    rng = random.Random(20261128)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        engine, targets, collect_seconds = build_haechi(directory, args.subjects)
        connection, aead, ids = build_baseline(directory, args.subjects)
        haechi_times: list[float] = []
        baseline_times: list[float] = []
        same_times: list[float] = []
        one_times: list[float] = []
        one_sql = build_one_sealed(engine, targets)
        time_haechi(engine, targets, 200, rng)  # warm caches on every side
        time_baseline(connection, aead, ids, 200, rng)
        time_same_schema(engine, targets, 200, rng)
        time_one_sealed(engine, one_sql, targets, 200, rng)
        for _ in range(args.rounds):
            haechi_times.append(time_haechi(engine, targets, args.calls, rng))
            baseline_times.append(time_baseline(connection, aead, ids, args.calls, rng))
            same_times.append(time_same_schema(engine, targets, args.calls, rng))
            one_times.append(time_one_sealed(engine, one_sql, targets, args.calls, rng))
        engine.close()
        connection.close()
    haechi_us = statistics.median(haechi_times) * 1e6
    baseline_us = statistics.median(baseline_times) * 1e6
    same_us = statistics.median(same_times) * 1e6
    one_us = statistics.median(one_times) * 1e6
    table = Table(
        title=f"use() on SQLite, {args.subjects:,} subjects, median of {args.rounds} rounds"
    )
    table.add_column("what")
    table.add_column("µs/call", justify="right")
    table.add_column("ops/s", justify="right")
    table.add_row("Haechi Engine.use()", f"{haechi_us:.1f}", f"{1e6 / haechi_us:,.0f}")
    table.add_row(
        "baseline (sqlite3 + AES-GCM + log row)", f"{baseline_us:.1f}", f"{1e6 / baseline_us:,.0f}"
    )
    table.add_row(
        "raw sqlite3, Haechi's schema and crypto", f"{same_us:.1f}", f"{1e6 / same_us:,.0f}"
    )
    table.add_row(
        "raw sqlite3, one ciphertext per collection", f"{one_us:.1f}", f"{1e6 / one_us:,.0f}"
    )
    table.add_row("ratio Haechi / baseline", f"{haechi_us / baseline_us:.2f}×", "target ≤ 2.00×")
    table.add_row("ratio Haechi / same-schema raw", f"{haechi_us / same_us:.2f}×", "")
    table.add_row("ratio same-schema raw / one-ciphertext raw", f"{same_us / one_us:.2f}×", "")
    table.add_row(
        "Engine.collect()",
        f"{collect_seconds / args.subjects * 1e6:.1f}",
        f"{args.subjects / collect_seconds:,.0f}",
    )
    console.print(table)


if __name__ == "__main__":
    main()
