"""Benchmark: the retention sweep against a raw DELETE of the same rows.

Fills a migrated SQLite installation with N expired collections of six sealed items
each (random bytes of the real sizes, inserted raw: the sweep never decrypts), copies
the file for the baseline, then times:

- baseline: raw ``sqlite3`` on the copy, same pragmas (WAL, secure_delete, NORMAL
  sync): one transaction deleting the items, keys and collections selected by the
  indexed expiry predicate, then ``wal_checkpoint(TRUNCATE)``;
- Haechi: ``Sweeper.run`` — chunked transactions that shred keys, delete items, mark
  collections destroyed, write one certificate and one audit event per collection,
  then checkpoint.

With ``--pg-url`` it does the same on PostgreSQL (filled with COPY; the baseline runs
first, then the database is refilled for the sweep).

    python benchmarks/bench_sweep.py [--collections 1000000] [--chunk 2000]
        [--pg-url postgresql://…] [--pg-collections 100000]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import func, select, text

from haechi import Engine, Settings
from haechi.crypto.keys import LocalKeyProvider
from haechi.policy import demo_policy_text, parse_policy
from haechi.retention import Sweeper
from haechi.storage.database import create_db_engine
from haechi.storage.migrate import upgrade
from haechi.storage.tables import destruction_certificates, items, metadata

console = Console()
ITEMS = ("name", "contact", "email", "company", "department", "title")
DUE = "2026-01-01 00:00:00.000000"
NOW = datetime(2026, 1, 3, tzinfo=UTC)  # due, not yet overdue


def rows(count: int) -> Iterator[tuple[str, bytes, list[bytes]]]:
    for _ in range(count):
        # 60-byte wrapped key (nonce + 32-byte key + tag), ~48-byte sealed items.
        yield str(uuid.uuid4()), os.urandom(60), [os.urandom(48) for _ in ITEMS]


def install(url: str, directory: Path) -> tuple[SqlEngine, str]:
    database = create_db_engine(url)
    upgrade(database)
    policy = parse_policy(demo_policy_text())
    Engine(
        database=database,
        policy=policy,
        keys=LocalKeyProvider(secrets.token_bytes(32)),
        settings=Settings(data_dir=directory),
    )
    return database, policy.version_id


def fill_sqlite(path: Path, version: str, count: int) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    step = 50_000
    made = 0
    generator = rows(count)
    while made < count:
        batch = [next(generator) for _ in range(min(step, count - made))]
        made += len(batch)
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO subjects (id, created_at) VALUES (?, ?)", ((r[0], DUE) for r in batch)
        )
        connection.executemany(
            "INSERT INTO collections (id, subject_id, purpose, state, policy_version, consented,"
            " collected_at, updated_at, expires_at, due_at, channel)"
            " VALUES (?, ?, 'service', 'active', ?, 1, ?, ?, ?, ?, 'bench')",
            ((r[0], r[0], version, DUE, DUE, DUE, DUE) for r in batch),
        )
        connection.executemany(
            "INSERT INTO data_keys (collection_id, key_id, wrapped) VALUES (?, 'bench', ?)",
            ((r[0], r[1]) for r in batch),
        )
        connection.executemany(
            "INSERT INTO items (collection_id, name, sealed) VALUES (?, ?, ?)",
            ((r[0], name, sealed) for r in batch for name, sealed in zip(ITEMS, r[2], strict=True)),
        )
        connection.execute("COMMIT")
        console.print(f"  filled {made:,}/{count:,}", end="\r")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    console.print()


def baseline_sqlite(path: Path) -> tuple[float, float]:
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "secure_delete=ON"):
        connection.execute(f"PRAGMA {pragma}")
    due = "SELECT id FROM collections WHERE state = 'active' AND due_at <= ?"
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(f"DELETE FROM items WHERE collection_id IN ({due})", (DUE,))
    connection.execute(f"DELETE FROM data_keys WHERE collection_id IN ({due})", (DUE,))
    connection.execute("DELETE FROM collections WHERE state = 'active' AND due_at <= ?", (DUE,))
    connection.execute("COMMIT")
    deleted = time.perf_counter() - started
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    total = time.perf_counter() - started
    connection.close()
    return deleted, total


def sweep(database: SqlEngine, count: int, chunk: int) -> float:
    sweeper = Sweeper(database, policy=parse_policy(demo_policy_text()).policy, chunk_size=chunk)
    started = time.perf_counter()
    report = sweeper.run(now=NOW)
    elapsed = time.perf_counter() - started
    assert report.destroyed == count, report
    with database.connect() as connection:
        assert connection.execute(select(func.count()).select_from(items)).scalar() == 0
        certified = connection.execute(
            select(func.count()).select_from(destruction_certificates)
        ).scalar()
        assert certified == count
    return elapsed


def bench_sqlite(count: int, chunk: int, directory: Path) -> dict[str, float]:
    path = directory / "haechi.db"
    database, version = install(f"sqlite:///{path}", directory)
    database.dispose()
    console.print(f"SQLite: filling {count:,} collections")
    fill_sqlite(path, version, count)
    base_dir = directory / "baseline"
    base_dir.mkdir()
    shutil.copy(path, base_dir / "haechi.db")
    console.print("SQLite: baseline DELETE")
    deleted, base_total = baseline_sqlite(base_dir / "haechi.db")
    shutil.rmtree(base_dir)
    console.print("SQLite: sweep")
    database = create_db_engine(f"sqlite:///{path}")
    elapsed = sweep(database, count, chunk)
    database.dispose()
    return {"baseline_delete": deleted, "baseline": base_total, "sweep": elapsed}


def fill_postgres(database: SqlEngine, version: str, count: int) -> None:
    raw = database.raw_connection()
    try:
        cursor = raw.cursor()
        generator = rows(count)
        due = datetime(2026, 1, 1, tzinfo=UTC)
        made = 0
        while made < count:
            batch = [next(generator) for _ in range(min(50_000, count - made))]
            made += len(batch)
            with cursor.copy("COPY subjects (id, created_at) FROM STDIN") as copy:
                for r in batch:
                    copy.write_row((r[0], due))
            with cursor.copy(
                "COPY collections (id, subject_id, purpose, state, policy_version, consented,"
                " collected_at, updated_at, expires_at, due_at, channel) FROM STDIN"
            ) as copy:
                for r in batch:
                    copy.write_row(
                        (r[0], r[0], "service", "active", version, True, due, due, due, due, "b")
                    )
            with cursor.copy("COPY data_keys (collection_id, key_id, wrapped) FROM STDIN") as copy:
                for r in batch:
                    copy.write_row((r[0], "bench", r[1]))
            with cursor.copy("COPY items (collection_id, name, sealed) FROM STDIN") as copy:
                for r in batch:
                    for name, sealed in zip(ITEMS, r[2], strict=True):
                        copy.write_row((r[0], name, sealed))
            raw.commit()
    finally:
        raw.close()
    with database.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


def truncate(database: SqlEngine) -> None:
    names = ", ".join(t.fullname for t in metadata.sorted_tables if t.name != "policy_versions")
    with database.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} CASCADE"))


def bench_postgres(url: str, count: int, chunk: int, directory: Path) -> dict[str, float]:
    database, version = install(url, directory)
    truncate(database)
    console.print(f"PostgreSQL: filling {count:,} collections (baseline)")
    fill_postgres(database, version, count)
    due = "SELECT id FROM collections WHERE state = 'active' AND due_at <= :due"
    started = time.perf_counter()
    with database.begin() as connection:
        parameters = {"due": datetime(2026, 1, 1, tzinfo=UTC)}
        connection.execute(text(f"DELETE FROM items WHERE collection_id IN ({due})"), parameters)
        connection.execute(
            text(f"DELETE FROM data_keys WHERE collection_id IN ({due})"), parameters
        )
        connection.execute(
            text("DELETE FROM collections WHERE state = 'active' AND due_at <= :due"), parameters
        )
    baseline = time.perf_counter() - started
    truncate(database)
    console.print(f"PostgreSQL: filling {count:,} collections (sweep)")
    fill_postgres(database, version, count)
    elapsed = sweep(database, count, chunk)
    truncate(database)
    database.dispose()
    return {"baseline": baseline, "sweep": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--pg-url", default=os.environ.get("HAECHI_BENCH_DATABASE_URL"))
    parser.add_argument("--pg-collections", type=int, default=100_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    results: list[tuple[str, int, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="haechi-bench-sweep-") as tmp:
        if not args.skip_sqlite:
            sqlite_dir = Path(tmp) / "sqlite"
            sqlite_dir.mkdir()
            results.append(
                ("SQLite", args.collections, bench_sqlite(args.collections, args.chunk, sqlite_dir))
            )
        if args.pg_url:
            pg_dir = Path(tmp) / "pg"
            pg_dir.mkdir()
            results.append(
                (
                    "PostgreSQL",
                    args.pg_collections,
                    bench_postgres(args.pg_url, args.pg_collections, args.chunk, pg_dir),
                )
            )
    table = Table("database", "collections", "baseline (s)", "sweep (s)", "ratio", "sweep/s")
    console.print()
    console.print(
        "| database | collections | baseline DELETE (s) | sweep (s) | ratio | collections/s |"
    )
    console.print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, count, result in results:
        ratio = result["sweep"] / result["baseline"]
        rate = count / result["sweep"]
        table.add_row(
            name,
            f"{count:,}",
            f"{result['baseline']:.1f}",
            f"{result['sweep']:.1f}",
            f"{ratio:.2f}×",
            f"{rate:,.0f}",
        )
        console.print(
            f"| {name} | {count:,} | {result['baseline']:.1f} | {result['sweep']:.1f}"
            f" | {ratio:.2f}× | {rate:,.0f} |"
        )
        if "baseline_delete" in result:
            console.print(
                f"  (SQLite baseline without the checkpoint: {result['baseline_delete']:.1f} s)"
            )
    console.print(table)


if __name__ == "__main__":
    main()
