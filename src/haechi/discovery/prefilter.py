"""The multi-pattern prefilter: which lines may hold which identifier type.

Every recognizer has a ``trigger`` regex. A prefilter runs all triggers over a
chunk of bytes in one pass and answers, per recognizer, the line spans worth
handing to :meth:`Recognizer.find <haechi.discovery.recognizers.base.Recognizer.find>`.

Two engines:

* :class:`HyperscanPrefilter` compiles the triggers into one Hyperscan database
  (a single DFA-like pass, gigabytes per second) and maps each match end to its
  line.
* :class:`RePrefilter` is the pure-Python fallback for machines where the
  Hyperscan wheel does not install. Python ``re`` cannot run many patterns in one
  pass, so it answers "the whole chunk" for every recognizer and lets ``find``
  do the scanning; the findings are the same, only slower.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal, Protocol

from haechi.discovery.recognizers.base import Recognizer
from haechi.errors import ConfigurationError, InvalidInput

__all__ = [
    "Engine",
    "HyperscanPrefilter",
    "Prefilter",
    "RePrefilter",
    "hyperscan_available",
    "make_prefilter",
]

Engine = Literal["auto", "re", "hyperscan"]
Spans = list[tuple[int, int]]


class Prefilter(Protocol):
    """Selects, per recognizer, the spans of a chunk that ``find`` must examine."""

    name: str

    def select(self, buf: bytes) -> list[Spans]:
        """Return, for each recognizer in order, the spans to examine (maybe none)."""
        ...


def hyperscan_available() -> bool:
    """Tell whether the Hyperscan bindings can be imported."""
    return importlib.util.find_spec("hyperscan") is not None


class RePrefilter:
    """Fallback engine: every recognizer examines the whole chunk."""

    name = "re"

    def __init__(self, recognizers: Sequence[Recognizer]) -> None:
        self._count = len(recognizers)

    def select(self, buf: bytes) -> list[Spans]:
        """Return the whole chunk for every recognizer."""
        whole = [(0, len(buf))]
        return [whole] * self._count


class HyperscanPrefilter:
    """Hyperscan engine: all triggers in one database, one pass per chunk.

    The compiled database is read-only and shared; a scratch space is not: Hyperscan
    refuses a scan whose scratch another scan is using (``ScratchInUseError``). Each
    thread therefore gets its own scratch, cloned from a prototype on first use.
    """

    name = "hyperscan"

    def __init__(self, recognizers: Sequence[Recognizer]) -> None:
        import hyperscan

        self._count = len(recognizers)
        self._database = _compile(tuple((r.trigger, r.trigger_caseless) for r in recognizers))
        self._prototype: Any = hyperscan.Scratch(self._database)
        self._local = threading.local()

    def _scratch(self) -> Any:
        """The calling thread's scratch space, cloned from the prototype on first use."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._prototype.clone()
        return scratch

    def select(self, buf: bytes) -> list[Spans]:
        """Scan once and group the hit lines per recognizer."""
        count = self._count
        if not buf:
            return [[] for _ in range(count)]
        # Only the end of each match is needed. A match on a line already taken is
        # dropped at once, and a hit on the line right after the last span extends that
        # span, so dense regions cost one ``find`` call, not one per line.
        line_end = [-1] * count
        spans: list[Spans] = [[] for _ in range(count)]
        find = buf.find
        rfind = buf.rfind
        size = len(buf)

        def on_match(pattern: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            last = line_end[pattern]
            if to <= last:
                return
            start = rfind(b"\n", 0, to) + 1
            end = find(b"\n", to)
            if end < 0:
                end = size
            line_end[pattern] = end
            found = spans[pattern]
            if start == last + 1 and found:
                found[-1] = (found[-1][0], end)
            else:
                found.append((start, end))

        self._database.scan(buf, match_event_handler=on_match, scratch=self._scratch())
        return spans


@lru_cache(maxsize=8)
def _compile(triggers: tuple[tuple[bytes, bool], ...]) -> Any:
    """Compile (once per process, and inherited by forked workers) a trigger set."""
    import hyperscan

    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[trigger for trigger, _ in triggers],
        ids=list(range(len(triggers))),
        elements=len(triggers),
        flags=[
            hyperscan.HS_FLAG_MULTILINE | (hyperscan.HS_FLAG_CASELESS if caseless else 0)
            for _, caseless in triggers
        ],
    )
    return database


def make_prefilter(engine: str, recognizers: Sequence[Recognizer]) -> Prefilter:
    """Build the prefilter for ``engine`` ("auto", "re" or "hyperscan").

    "auto" takes Hyperscan when its bindings import, Python ``re`` otherwise.
    Asking for "hyperscan" where it is missing is a configuration error.
    """
    if engine not in ("auto", "re", "hyperscan"):
        raise InvalidInput("engine must be one of auto, re, hyperscan", field="engine")
    if engine == "re" or (engine == "auto" and not hyperscan_available()):
        return RePrefilter(recognizers)
    if not hyperscan_available():
        raise ConfigurationError(
            "the hyperscan engine was asked for but the hyperscan package is not installed",
            field="engine",
        )
    return HyperscanPrefilter(recognizers)
