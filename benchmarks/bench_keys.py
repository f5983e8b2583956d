"""Benchmark: rotating an epoch of live collections, and use() while it runs.

Fills a migrated SQLite installation (a real key directory) with N live collections
whose data keys sit under one epoch key — real data keys, wrapped for real; their
items are random bytes, since rotation never opens an item — plus P collections
made by ``Engine.collect`` in the same epoch, which ``use()`` reads. Then, in one run:

- baseline: ``use()`` on random probe subjects, no rotation (p50, p99);
- rotation: one collection is destroyed, the key job (in a thread, as ``haechi serve``
  runs it) moves every other data key of the epoch to a new epoch key, while the main
  thread keeps calling ``use()``: collections re-wrapped per second, and use() p99
  during the rotation against the baseline (target within 1.5×).

    python benchmarks/bench_keys.py [--collections 100000] [--probes 2000] [--chunk 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from haechi import Actor, ConsentEvidence, Engine, Settings
from haechi.config import KeySettings
from haechi.crypto.epochs import Store, data_key_context
from haechi.crypto.keys import LocalKeyProvider, create_master_key_file, new_data_key
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import create_db_engine
from haechi.storage.keyring import current_epoch
from haechi.storage.migrate import upgrade

console = Console()
ITEMS = ("name", "contact", "email", "company", "department", "title")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
READER = Actor(name="crm", kind="token", purposes=frozenset({"service"}))


def person(index: int) -> dict[str, str]:
    return {
        "name": f"이용자{index:06d}",
        "contact": f"010-{1000 + index // 10000:04d}-{index % 10000:04d}",
        "email": f"probe{index}@example.kr",
        "company": "한빛상사",
        "department": "구매팀",
        "title": "대리",
    }


def build(
    directory: Path, *, collections: int, probes: int, chunk: int
) -> tuple[Engine, list[str]]:
    """The installation: probes collected for real, the rest filled raw in the same epoch."""
    create_master_key_file(directory / "master.key")
    keys = LocalKeyProvider.from_file(directory / "master.key", key_directory=directory / "keys")
    database = create_db_engine(f"sqlite:///{directory / 'haechi.db'}")
    upgrade(database)
    engine = Engine(
        database=database,
        policy=parse_policy(demo_policy_text()),
        keys=keys,
        settings=Settings(data_dir=directory, keys=KeySettings(chunk_size=chunk)),
        clock=lambda: START,
    )
    consent = ConsentEvidence(granted=True, method="web-form")
    subjects = [
        engine.collect(purpose="service", items=person(i), consent=consent, actor=SYSTEM).subject_id
        for i in range(probes)
    ]
    due = START + timedelta(days=365)  # service keeps a year: the probes' deadline day
    with database.begin() as connection:
        epoch = current_epoch(connection, keys, store=Store.MAIN, deadline=due, now=START)
        version = engine.policy.version_id
    raw = sqlite3.connect(directory / "haechi.db", isolation_level=None)
    raw.execute("PRAGMA synchronous=OFF")
    stamp = due.strftime("%Y-%m-%d %H:%M:%S.%f")
    made = 0
    while made < collections:
        batch = [str(uuid.uuid4()) for _ in range(min(20_000, collections - made))]
        made += len(batch)
        raw.execute("BEGIN")
        raw.executemany(
            "INSERT INTO subjects (id, created_at) VALUES (?, ?)", ((i, stamp) for i in batch)
        )
        raw.executemany(
            "INSERT INTO collections (id, subject_id, purpose, state, policy_version, consented,"
            " collected_at, updated_at, expires_at, due_at, channel, key_version)"
            " VALUES (?, ?, 'service', 'active', ?, 1, ?, ?, ?, ?, 'bench', 0)",
            ((i, i, version, stamp, stamp, stamp, stamp) for i in batch),
        )
        raw.executemany(
            "INSERT INTO data_keys (collection_id, key_id, wrapped) VALUES (?, ?, ?)",
            (
                (
                    i,
                    epoch,
                    keys.wrap_epoch(epoch, new_data_key(), context=data_key_context(Store.MAIN, i)),
                )
                for i in batch
            ),
        )
        raw.executemany(
            "INSERT INTO items (collection_id, name, sealed) VALUES (?, ?, ?)",
            ((i, name, os.urandom(48)) for i in batch for name in ITEMS),
        )
        raw.execute("COMMIT")
        console.print(f"  filled {made:,}/{collections:,}", end="\r")
    raw.close()
    console.print()
    return engine, subjects


def timed_uses(
    engine: Engine,
    subjects: list[str],
    rng: random.Random,
    *,
    until: threading.Event | None,
    calls: int,
) -> list[float]:
    """Seconds per use() call: ``calls`` of them, or until ``until`` is set."""
    times: list[float] = []
    while (until is None and len(times) < calls) or (until is not None and not until.is_set()):
        subject = rng.choice(subjects)
        started = time.perf_counter()
        engine.use(actor=READER, subject_id=subject, purpose="service")
        times.append(time.perf_counter() - started)
    return times


def percentile(values: list[float], point: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(point / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=2_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=5_000)
    args = parser.parse_args()
    rng = random.Random(20261201)
    with tempfile.TemporaryDirectory() as tmp:
        engine, subjects = build(
            Path(tmp), collections=args.collections, probes=args.probes, chunk=args.chunk
        )
        timed_uses(engine, subjects, rng, until=None, calls=500)  # warm caches
        baseline = timed_uses(engine, subjects, rng, until=None, calls=args.calls)

        victim = engine.collect(
            purpose="service",
            items=person(args.probes),
            consent=ConsentEvidence(granted=True, method="web-form"),
            actor=SYSTEM,
        )
        engine.destroy(victim.collection_id, actor=SYSTEM)
        done = threading.Event()
        outcome: dict[str, float] = {}

        def rotate() -> None:
            started = time.perf_counter()
            report = engine.run_keys(actor=SYSTEM)
            outcome["seconds"] = time.perf_counter() - started
            outcome["moved"] = report.moved
            done.set()

        thread = threading.Thread(target=rotate)
        thread.start()
        during = timed_uses(engine, subjects, rng, until=done, calls=0)
        thread.join()
        engine.close()
    moved, seconds = int(outcome["moved"]), outcome["seconds"]
    base_p50, base_p99 = (percentile(baseline, p) * 1e3 for p in (50, 99))
    during_p50, during_p99 = (percentile(during, p) * 1e3 for p in (50, 99))
    table = Table(
        title=(
            f"Epoch rotation on SQLite: {moved:,} live data keys re-wrapped, chunks of {args.chunk}"
        )
    )
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("rotation time", f"{seconds:.2f} s")
    table.add_row("collections re-wrapped / s", f"{moved / seconds:,.0f}")
    table.add_row("use() p50 without / during", f"{base_p50:.2f} / {during_p50:.2f} ms")
    table.add_row("use() p99 without / during", f"{base_p99:.2f} / {during_p99:.2f} ms")
    table.add_row("use() calls without / during", f"{len(baseline):,} / {len(during):,}")
    table.add_row("ratio p99 during / without", f"{during_p99 / base_p99:.2f}× (target ≤ 1.50×)")
    table.add_row("use() median without", f"{statistics.median(baseline) * 1e3:.2f} ms")
    console.print(table)


if __name__ == "__main__":
    main()
