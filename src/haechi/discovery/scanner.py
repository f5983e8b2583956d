"""The scanner: prefilter, recognizers on candidates only, overlap resolution.

:class:`Scanner` turns chunks of bytes into :class:`~haechi.discovery.findings.Finding`
objects. It is independent of where bytes come from (see :mod:`.sources` and
:mod:`.database`) and of the policy: it is told which finding types the policy
declares through ``declared_types``.

:func:`find_identifiers` is the cheap entry point for free text, e.g. to refuse a
unique identifier typed into a free-text item.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import NamedTuple

from haechi.discovery.chunks import Chunk, TextChunk
from haechi.discovery.findings import Finding
from haechi.discovery.prefilter import Engine, make_prefilter
from haechi.discovery.recognizers import FINDING_TYPES, Recognizer, default_recognizers
from haechi.errors import InvalidInput

__all__ = ["DEFAULT_MIN_CONFIDENCE", "Hit", "Scanner", "find_identifiers"]

#: findings below this confidence are not reported by default
DEFAULT_MIN_CONFIDENCE = 0.3

_PLAIN_KEY = re.compile(r"[A-Za-z_]*=?-?[0-9]{1,9}")


class Hit(NamedTuple):
    """A validated value in a buffer: byte span, confidence and recognizer index."""

    start: int
    end: int
    confidence: float
    recognizer: int


class Scanner:
    """Finds identifiers in bytes, text, chunks and streams.

    Args:
        declared_types: finding types the policy declares (see :data:`FINDING_TYPES`).
        engine: prefilter engine, "auto" (Hyperscan when installed), "re" or "hyperscan".
        types: only look for these finding types (all by default).
        min_confidence: drop findings below this confidence.
        recognizers: replace the built-in recognizers (for tests and extensions).
    """

    def __init__(
        self,
        *,
        declared_types: Collection[str] = (),
        engine: Engine | str = "auto",
        types: Collection[str] | None = None,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        recognizers: Sequence[Recognizer] | None = None,
    ) -> None:
        chosen = list(recognizers) if recognizers is not None else default_recognizers()
        known = {recognizer.name for recognizer in chosen}
        if types is not None:
            unknown = sorted(set(types) - known)
            if unknown:
                raise InvalidInput(f"unknown finding types: {', '.join(unknown)}", field="types")
            chosen = [recognizer for recognizer in chosen if recognizer.name in types]
        if not 0.0 <= min_confidence <= 1.0:
            raise InvalidInput("min_confidence must be between 0 and 1", field="min_confidence")
        self.recognizers: tuple[Recognizer, ...] = tuple(chosen)
        self.declared_types = frozenset(declared_types)
        self.min_confidence = min_confidence
        self._prefilter = make_prefilter(engine, self.recognizers)

    @property
    def engine(self) -> str:
        """The prefilter engine in use: "hyperscan" or "re"."""
        return self._prefilter.name

    def scan_buffer(self, buf: bytes) -> list[Hit]:
        """Return the accepted, non-overlapping values in ``buf``, in order.

        Where two recognizers claim overlapping bytes, the higher confidence wins,
        then the recognizer listed first.
        """
        found: list[tuple[int, int, int, float]] = []
        add = found.append
        floor = self.min_confidence
        for index, spans in enumerate(self._prefilter.select(buf)):
            if not spans:
                continue
            find = self.recognizers[index].find
            for start, end in spans:
                for begin, finish, confidence in find(buf, start, end):
                    if confidence >= floor:
                        add((begin, -finish, index, confidence))
        if len(found) > 1:
            found.sort()
        hits: list[Hit] = []
        last: Hit | None = None
        for begin, negative_end, index, confidence in found:
            hit = Hit(begin, -negative_end, confidence, index)
            if last is not None and begin < last.end:
                if (confidence, -index) > (last.confidence, -last.recognizer):
                    hits[-1] = last = hit
            else:
                hits.append(hit)
                last = hit
        return hits

    def scan_chunk(self, chunk: Chunk) -> list[Finding]:
        """Scan one chunk and return its findings with locations and masked values."""
        data = chunk.data
        hits = self.scan_buffer(data)
        if not hits:
            return []
        findings: list[Finding] = []
        for hit, location in zip(hits, chunk.locate([hit.start for hit in hits]), strict=True):
            if location is None:
                continue
            recognizer = self.recognizers[hit.recognizer]
            value = data[hit.start : hit.end].decode("utf-8", "replace")
            if location.row_key is not None and not _PLAIN_KEY.fullmatch(location.row_key):
                location = replace(location, row_key=self.mask_text(location.row_key))
            findings.append(
                Finding(
                    type=recognizer.name,
                    location=location,
                    confidence=hit.confidence,
                    masked=recognizer.mask(value),
                    declared=recognizer.name in self.declared_types,
                )
            )
        return findings

    def scan_chunks(self, chunks: Iterable[Chunk]) -> Iterator[Finding]:
        """Scan chunks one after another, yielding findings as they come."""
        for chunk in chunks:
            yield from self.scan_chunk(chunk)

    def scan_text(self, text: str, *, source: str = "<text>") -> list[Finding]:
        """Scan a string; locations are ``source:line:column`` within it."""
        return self.scan_chunk(TextChunk(text.encode("utf-8", "replace"), source))

    def mask_text(self, text: str) -> str:
        """Return ``text`` with every identifier found in it masked."""
        data = text.encode("utf-8", "replace")
        out: list[str] = []
        previous = 0
        for hit in self.scan_buffer(data):
            out.append(data[previous : hit.start].decode("utf-8", "replace"))
            value = data[hit.start : hit.end].decode("utf-8", "replace")
            out.append(self.recognizers[hit.recognizer].mask(value))
            previous = hit.end
        out.append(data[previous:].decode("utf-8", "replace"))
        return "".join(out)


@lru_cache(maxsize=1)
def _default_scanner() -> Scanner:
    return Scanner(declared_types=FINDING_TYPES)


def find_identifiers(text: str, *, min_confidence: float = 0.5) -> list[Finding]:
    """Return the identifiers in ``text`` at or above ``min_confidence``.

    Meant for a quick check of one free-text value (a few microseconds for short
    text). ``declared`` is ``True`` on every finding here; the caller decides what
    the policy allows.
    """
    return [
        finding
        for finding in _default_scanner().scan_text(text)
        if finding.confidence >= min_confidence
    ]
