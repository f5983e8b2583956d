"""Benchmark: audited reads and collections through ``haechi serve``, against a minimal app.

Starts the servers itself: ``haechi serve`` as in production (its sealer process,
monitors and other jobs running; ``--workers N`` for each N asked), and the baseline,
``benchmarks/http_baseline.py``: a minimal FastAPI app in the same uvicorn doing the same
raw work (select one sealed row, AES-256-GCM-decrypt it, insert a log row, commit; or
seal one row, log, commit). Both get the same subjects. ``wrk`` (a bounded closed loop:
``--connections`` connections for ``--duration`` seconds) drives them over loopback,
rounds alternating between the two; medians are reported, with ratios from the same run.

With ``--sweep N`` it also fills N expired collections and measures the p99 of reads
while ``haechi sweep`` destroys them, against the p99 just before.

    python benchmarks/bench_http.py [--subjects 2000] [--duration 8] [--rounds 3]
        [--workers 1 2 4] [--database postgresql://… --reset] [--sweep 100000]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from bench_sweep import fill_sqlite
from http_baseline import fill
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text

from haechi import ConsentEvidence, Engine, Settings
from haechi.engine import SYSTEM
from haechi.storage.database import create_db_engine

console = Console(width=150)
HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
ITEMS = {
    "name": "이용자",
    "contact": "010-2345-6789",
    "company": "한빛상사",
    "department": "구매팀",
    "title": "대리",
}

READ_LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "%(prefix)s" .. id .. "%(suffix)s", {%(headers)s})
end
"""
COLLECT_LUA = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  prefix = "t" .. tostring(id) .. "r" .. os.time() .. "n"
  counter = 0
end
local headers = {["Content-Type"] = "application/json", %(headers)s}
local template = [[%(body)s]]
request = function()
  counter = counter + 1
  local body = string.format(template, prefix .. counter)
  return wrk.format("POST", "%(path)s", headers, body)
end
"""


@dataclass
class Run:
    """One wrk run: throughput and latency percentiles (ms)."""

    rps: float
    p50: float
    p99: float
    errors: int


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: Path, *, duration: float, connections: int) -> Run:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = [
        re.search(pattern, out, re.MULTILINE)
        for pattern in (r"Requests/sec:\s+([\d.]+)", r"^\s+50%\s+(\S+)\s*$", r"^\s+99%\s+(\S+)\s*$")
    ]
    if not all(figures):
        raise SystemExit(f"unexpected wrk output:\n{out}")
    rps = float(figures[0][1])  # type: ignore[index]
    p50, p99 = (_ms(found[1]) for found in figures[1:])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*timeout (\d+)", out)
    return Run(rps, p50, p99, (int(bad[1]) if bad else 0) + (int(errors[1]) if errors else 0))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_up(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{url} did not come up")


@contextmanager
def server(
    command: list[str], env: dict[str, str], probe: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_up(probe, process)
            # Let the jobs' first rounds (sealing, monitors, sweep) pass.
            time.sleep(3)
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def haechi_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), **extra}


@contextmanager
def haechi_server(
    data: Path, log: Path, *, workers: int | None = None, **env: str
) -> Iterator[str]:
    """``haechi serve`` over ``data`` on a free port, up and past its first rounds: its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "haechi.cli", "serve", "--data", str(data)]
    command += ["--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    with server(command, haechi_env(**env), f"{url}/api/v1/health", log):
        yield url


def drive(args: argparse.Namespace, url: str, script: Path) -> Run:
    """One ``wrk`` run with the connections and duration asked on the command line."""
    return wrk(url, script, duration=args.duration, connections=args.connections)


def haechi(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "haechi.cli", *args],
        env=haechi_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def install(directory: Path, database: str | None, subjects: int) -> tuple[Path, str, list[str]]:
    data = directory / "data"
    haechi("init", str(data), *(["--database", database] if database else []))
    token = haechi("tokens", "create", "--name", "bench", "-p", "service", "--data", str(data))
    engine = Engine.open(Settings.load(data))
    consent = ConsentEvidence(granted=True, method="web-form")
    ids: list[str] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("collect()", total=subjects)
        for index in range(subjects):
            items = {**ITEMS, "email": f"user{index}@example.kr"}
            result = engine.collect(purpose="service", items=items, consent=consent, actor=SYSTEM)
            ids.append(result.subject_id)
            progress.advance(task)
    engine.close()
    return data, token.strip(), ids


def reset(url: str) -> None:
    database = create_db_engine(url)
    with database.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS haechi_separated CASCADE"))
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.dispose()


def scripts(directory: Path, ids: list[str], token: str) -> dict[str, Path]:
    (directory / "ids").write_text("\n".join(ids) + "\n", encoding="utf-8")
    bearer = f'["Authorization"] = "Bearer {token}"'
    body = (
        '{"purpose": "service", "items": {"name": "이용자", "contact": "010-2345-6789", '
        '"email": "%s@example.kr", "company": "c", "department": "d", "title": "t"}, '
        '"consent": {"granted": true, "method": "web-form"}}'
    )
    base_body = '{"items": {"name": "이용자", "email": "%s@example.kr"}}'
    made = {
        "haechi-read": READ_LUA
        % {
            "ids": directory / "ids",
            "prefix": "/api/v1/subjects/",
            "suffix": "/items?purpose=service",
            "headers": bearer,
        },
        "base-read": READ_LUA
        % {"ids": directory / "ids", "prefix": "/read/", "suffix": "", "headers": ""},
        "haechi-collect": COLLECT_LUA
        % {"headers": bearer, "body": body, "path": "/api/v1/collections"},
        "base-collect": COLLECT_LUA % {"headers": "", "body": base_body, "path": "/collect"},
    }
    paths = {}
    for name, source in made.items():
        paths[name] = directory / f"{name}.lua"
        paths[name].write_text(source, encoding="utf-8")
    return paths


def median_run(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50 for r in runs),
        statistics.median(r.p99 for r in runs),
        sum(r.errors for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--database", help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--reset", action="store_true", help="empty --database first")
    parser.add_argument("--sweep", type=int, default=0, help="expired collections to sweep")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-http-"))
    try:
        if args.database and args.reset:
            reset(args.database)
        data, token, ids = install(directory, args.database, args.subjects)
        key = secrets.token_bytes(32)
        fill(str(directory / "base.db"), key, {row_id: ITEMS for row_id in ids})
        lua = scripts(directory, ids, token)
        base_port = free_port()
        base_env = {
            **os.environ,
            "HTTP_BASELINE_DB": str(directory / "base.db"),
            "HTTP_BASELINE_KEY": key.hex(),
        }
        base_command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "http_baseline:create",
            "--app-dir",
            str(HERE),
            "--port",
            str(base_port),
        ]
        base_url = f"http://127.0.0.1:{base_port}"
        results: dict[tuple[str, int], tuple[Run, Run]] = {}
        sweep_figures: tuple[Run, Run, float] | None = None
        with server(base_command, base_env, f"{base_url}/read/x", directory / "base.log"):
            for workers in args.workers:
                log = directory / "serve.log"
                with haechi_server(data, log, workers=workers) as url:
                    for kind in ("read", "collect"):
                        runs: dict[str, list[Run]] = {"base": [], "haechi": []}
                        for _ in range(args.rounds):
                            for who, target in (("base", base_url), ("haechi", url)):
                                runs[who].append(drive(args, target, lua[f"{who}-{kind}"]))
                        results[(kind, workers)] = (
                            median_run(runs["base"]),
                            median_run(runs["haechi"]),
                        )
                        console.print(f"  {kind}, {workers} worker(s): done")
            if args.sweep:
                sweep_figures = measure_sweep(args, data, token, ids, directory, lua)
        print_table(results, args, sweep_figures)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def measure_sweep(
    args: argparse.Namespace,
    data: Path,
    token: str,
    ids: list[str],
    directory: Path,
    lua: dict[str, Path],
) -> tuple[Run, Run, float]:
    """p99 of reads before and during a sweep of ``args.sweep`` expired collections."""
    if args.database:
        raise SystemExit("--sweep fills SQLite only")
    engine = Engine.open(Settings.load(data))
    version = engine.policy.version_id
    engine.close()
    console.print(f"filling {args.sweep:,} expired collections")
    fill_sqlite(data / "haechi.db", version, args.sweep)
    # The server's own sweep stays off: the sweep is started below, while reads run.
    log = directory / "serve-sweep.log"
    with haechi_server(data, log, HAECHI__RETENTION__SWEEP_INTERVAL_SECONDS="0") as url:
        before = drive(args, url, lua["haechi-read"])
        started = time.monotonic()
        sweep = subprocess.Popen(
            [sys.executable, "-m", "haechi.cli", "sweep", "--data", str(data)],
            env=haechi_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        during = drive(args, url, lua["haechi-read"])
        still_running = sweep.poll() is None
        sweep.wait()
        elapsed = time.monotonic() - started
        if not still_running:
            console.print(f"[yellow]the sweep ended within the run ({elapsed:.1f} s)[/yellow]")
    return before, during, elapsed


def print_table(
    results: dict[tuple[str, int], tuple[Run, Run]],
    args: argparse.Namespace,
    sweep: tuple[Run, Run, float] | None,
) -> None:
    backend = "PostgreSQL" if args.database else "SQLite"
    table = Table(
        title=(
            f"haechi serve ({backend}) vs minimal FastAPI (SQLite), wrk -c{args.connections}, "
            f"{args.duration:g} s × {args.rounds} rounds, medians"
        )
    )
    for column in (
        "what",
        "workers",
        "baseline req/s",
        "Haechi req/s",
        "req/s ratio (≥ 0.67)",
        "baseline p50/p99 ms",
        "Haechi p50/p99 ms",
        "p99 ratio (≤ 2)",
        "errors",
    ):
        table.add_column(column, justify="right")
    for (kind, workers), (base, ours) in results.items():
        table.add_row(
            kind,
            str(workers),
            f"{base.rps:,.0f}",
            f"{ours.rps:,.0f}",
            f"{ours.rps / base.rps:.2f}",
            f"{base.p50:.1f} / {base.p99:.1f}",
            f"{ours.p50:.1f} / {ours.p99:.1f}",
            f"{ours.p99 / base.p99:.2f}",
            str(base.errors + ours.errors),
        )
    console.print(table)
    if sweep is not None:
        before, during, elapsed = sweep
        console.print(
            f"reads while sweeping {args.sweep:,} collections ({elapsed:.1f} s): "
            f"p99 {during.p99:.1f} ms against {before.p99:.1f} ms before "
            f"(ratio {during.p99 / before.p99:.2f}, target ≤ 2); "
            f"{during.rps:,.0f} against {before.rps:,.0f} req/s"
        )


if __name__ == "__main__":
    main()
