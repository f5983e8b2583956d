"""The scanner under concurrent threads: one shared scanner, many request threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from haechi.discovery import Finding, Scanner, find_identifiers, hyperscan_available
from tests.discovery.test_scanner import SAMPLE, mixed_corpus

needs_hyperscan = pytest.mark.skipif(
    not hyperscan_available(), reason="the hyperscan wheel is not installed on this machine"
)

THREADS = 8
ROUNDS = 60


Scan = Callable[[str], list[Finding]]


def _run_together(work: list[str], scan: Scan) -> list[list[Finding]]:
    """Run ``scan`` over ``work`` on THREADS threads released at the same moment."""
    start = threading.Barrier(THREADS)

    def worker(offset: int) -> list[list[Finding]]:
        start.wait()
        return [scan(work[(offset + i) % len(work)]) for i in range(ROUNDS)]

    with ThreadPoolExecutor(THREADS) as pool:
        per_thread = list(pool.map(worker, range(THREADS)))
    return [found for results in per_thread for found in results]


def _serial(work: list[str], scan: Scan) -> list[list[Finding]]:
    """The same calls as :func:`_run_together`, one after another on this thread."""
    return [scan(work[(t + i) % len(work)]) for t in range(THREADS) for i in range(ROUNDS)]


@needs_hyperscan
def test_find_identifiers_is_safe_from_many_threads_at_once() -> None:
    """It gives every thread the serial answer, with no scratch-in-use error."""
    work = [SAMPLE, *(mixed_corpus(30, seed) for seed in range(7))]
    serial = _serial(work, find_identifiers)
    assert _run_together(work, find_identifiers) == serial


@needs_hyperscan
def test_one_hyperscan_scanner_serves_many_threads_at_once() -> None:
    """It lets one Scanner scan large texts from many threads, each with the serial result."""
    scanner = Scanner(engine="hyperscan", min_confidence=0.0)
    work = [mixed_corpus(150, seed) for seed in range(4)]
    serial = _serial(work, scanner.scan_text)
    assert _run_together(work, scanner.scan_text) == serial
