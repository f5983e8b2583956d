"""Benchmark: the tamper-evident log — append, seal, verify, prove — against raw hashing.

Appends N audit events (SQLite), seals them, verifies the whole log, and times
inclusion proofs in the resulting tree. The baseline, in the same run, is raw
``hashlib.sha256`` over the very bytes the leaves hash (the canonical encodings), so
the ratio shows what the log costs on top of the hashing it cannot avoid. A second
part measures ``use()`` with the sealer running in the background against the core
benchmark's baseline, with and without the sealer.

    python benchmarks/bench_audit.py [--events 1000000] [--subjects 20000]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import insert, select

from haechi import Engine, Settings
from haechi.audit.canonical import EVENT_FIELDS, encode_event
from haechi.audit.events import event_values
from haechi.audit.merkle import verify_inclusion
from haechi.crypto.keys import LocalKeyProvider
from haechi.policy import demo_policy_text, parse_policy
from haechi.storage.database import create_db_engine
from haechi.storage.migrate import upgrade
from haechi.storage.tables import audit_events

sys.path.insert(0, str(Path(__file__).parent))
import bench_use

console = Console()


def make_engine(directory: Path) -> Engine:
    database = create_db_engine(f"sqlite:///{directory / 'haechi.db'}")
    upgrade(database)
    return Engine(
        database=database,
        policy=parse_policy(demo_policy_text()),
        keys=LocalKeyProvider(secrets.token_bytes(32)),
        settings=Settings(data_dir=directory),
    )


def append(engine: Engine, count: int) -> float:
    rng = random.Random(7)
    subjects = [str(uuid.uuid4()) for _ in range(5000)]
    actors = [f"staff{index}" for index in range(40)]
    start = datetime(2026, 1, 5, tzinfo=UTC)
    statement = insert(audit_events)
    began = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("append", total=count)
        done = 0
        while done < count:
            size = min(10_000, count - done)
            rows = [
                event_values(
                    now=start + timedelta(seconds=done + index),
                    actor=rng.choice(actors),
                    actor_kind="staff",
                    action="view",
                    subject_id=rng.choice(subjects),
                    collection_id=rng.choice(subjects),
                    purpose="service",
                    items=["email", "name"],
                    source_ip="10.0.0.7",
                )
                for index in range(size)
            ]
            with engine.transaction() as connection:
                connection.execute(statement, rows)
            done += size
            progress.update(task, completed=done)
    return time.perf_counter() - began


def canonical_bytes(engine: Engine) -> list[bytes]:
    columns = [audit_events.c[name] for name in EVENT_FIELDS]
    with engine.database.connect() as connection:
        rows = connection.execute(select(*columns).order_by(audit_events.c.id))
        return [encode_event(row) for row in rows]


def raw_hashing(entries: list[bytes]) -> float:
    sha256 = hashlib.sha256
    began = time.perf_counter()
    for entry in entries:
        sha256(b"\x00" + entry).digest()
    return time.perf_counter() - began


def sealer_loop(url: str, stop: Any) -> None:
    """What `haechi serve` runs beside itself: a process sealing every second."""
    engine = Engine(
        database=create_db_engine(url),
        policy=parse_policy(demo_policy_text()),
        keys=LocalKeyProvider(secrets.token_bytes(32)),
        settings=Settings(),
    )
    while not stop.is_set():
        engine.seal_all()
        stop.wait(engine.settings.audit.seal_interval_seconds)


def use_ratio(subjects: int, calls: int, rounds: int, with_sealer: bool) -> float:
    """Haechi use() / raw baseline, median over rounds, optionally with the sealer on."""
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        engine, targets, _ = bench_use.build_haechi(directory, subjects)
        engine.seal_all()
        connection, aead, ids = bench_use.build_baseline(directory, subjects)
        stop = multiprocessing.Event()
        sealer = multiprocessing.Process(target=sealer_loop, args=(str(engine.database.url), stop))
        if with_sealer:
            sealer.start()
        ratios = []
        try:
            for _ in range(rounds):
                haechi = bench_use.time_haechi(engine, targets, calls, rng)
                baseline = bench_use.time_baseline(connection, aead, ids, calls, rng)
                ratios.append(haechi / baseline)
        finally:
            if with_sealer:
                stop.set()
                sealer.join()
            engine.close()
            connection.close()
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(Path(tmp))
        append_s = append(engine, args.events)
        entries = canonical_bytes(engine)
        megabytes = sum(len(entry) for entry in entries) / 1e6
        began = time.perf_counter()
        engine.seal_all()
        seal_s = time.perf_counter() - began
        began = time.perf_counter()
        report = engine.verify_log()
        verify_s = time.perf_counter() - began
        assert report.ok, report.problems
        assert report.size == args.events
        hash_s = statistics.median(raw_hashing(entries) for _ in range(3))
        rng = random.Random(3)
        proof_gen: list[float] = []
        proof_check: list[float] = []
        for _ in range(5):
            event_id = rng.randint(1, args.events)
            began = time.perf_counter()
            proof = engine.prove(event_id)
            proof_gen.append(time.perf_counter() - began)
            began = time.perf_counter()
            for _ in range(1000):
                verify_inclusion(
                    proof.leaf_index, proof.head.size, proof.leaf_hash, proof.path, proof.head.root
                )
            proof_check.append((time.perf_counter() - began) / 1000)
        engine.close()
    rows = [
        ("append (insert events)", append_s),
        ("seal (encode, hash, tree, sign)", seal_s),
        ("verify (re-encode, hash, roots, signatures)", verify_s),
        ("raw hashlib.sha256 over the same bytes", hash_s),
    ]
    table = Table(title=f"Access log, {args.events:,} events ({megabytes:,.0f} MB canonical)")
    for column in ("step", "seconds", "events/s", "MB/s", "vs raw hashing"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for name, seconds in rows:
        table.add_row(
            name,
            f"{seconds:.2f}",
            f"{args.events / seconds:,.0f}",
            f"{megabytes / seconds:,.1f}",
            f"{hash_s / seconds:.0%}",
        )
    console.print(table)
    console.print(
        f"Inclusion proof in a {args.events:,}-leaf tree: built in "
        f"{statistics.median(proof_gen) * 1e3:.0f} ms, verified in "
        f"{statistics.median(proof_check) * 1e6:.1f} µs ({len(proof.path)} hashes)."
    )
    without = use_ratio(args.subjects, args.calls, args.rounds, with_sealer=False)
    with_sealer = use_ratio(args.subjects, args.calls, args.rounds, with_sealer=True)
    drift = with_sealer / without - 1
    console.print(
        f"use() / baseline on {args.subjects:,} subjects: {without:.2f}× without the sealer, "
        f"{with_sealer:.2f}× with it running ({drift:+.0%}; target within ±10%)."
    )


if __name__ == "__main__":
    main()
