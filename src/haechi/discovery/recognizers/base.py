"""The recognizer contract shared by every identifier type.

A recognizer owns one finding type. It offers two things to the scanner:

* ``trigger``: a Hyperscan regular expression (no look-arounds, no
  back-references; ``^`` and ``$`` match at line ends) that matches somewhere in
  every line holding a value the recognizer could accept. The Hyperscan prefilter
  runs all triggers at once and only the lines they hit are handed to
  :meth:`Recognizer.find`; a trigger may be looser than the value, never tighter.
* :meth:`Recognizer.find`: the exact extraction and validation on a byte buffer.

``find`` must be *line-local*: a candidate never spans a newline and its confidence
depends only on bytes of its own line. That is what makes the two prefilter engines
give the same findings, since one hands whole chunks and the other single lines.

Buffers are UTF-8 bytes: every pattern is ASCII except the Korean context words,
whose UTF-8 encodings are matched as byte strings.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar, NamedTuple

__all__ = [
    "Candidate",
    "Keywords",
    "Recognizer",
    "RegexRecognizer",
    "mask_alnum",
]

# No ASCII letter or digit may touch a value on either side, nor may it continue a
# decimal number ("3.14"): both would make the value part of something else. A comma
# is a field separator as often as a thousands separator (CSV files), so it ends a
# value rather than joining it to its neighbour.
LEFT_EDGE = rb"(?<![0-9A-Za-z])(?<![0-9][.])"
RIGHT_EDGE = rb"(?![0-9A-Za-z])(?![.][0-9])"
# The same edges, loosened to what Hyperscan can say without look-arounds.
TRIGGER_LEFT = rb"(?:^|[^0-9A-Za-z\n])"
TRIGGER_RIGHT = rb"(?:[^0-9A-Za-z\n]|$)"

CONTEXT_BEFORE = 48
CONTEXT_AFTER = 32


class Candidate(NamedTuple):
    """A validated value: byte span in the buffer and a confidence in (0, 1]."""

    start: int
    end: int
    confidence: float


class Recognizer(ABC):
    """Finds and validates one type of identifier in UTF-8 bytes."""

    #: finding type name, e.g. ``"rrn"``
    name: ClassVar[str]
    #: human label used in reports
    label: ClassVar[str]
    #: superset regular expression for the prefilter (see module docstring)
    trigger: ClassVar[bytes]
    #: whether the trigger ignores ASCII case
    trigger_caseless: ClassVar[bool] = False

    @abstractmethod
    def find(self, buf: bytes, pos: int, endpos: int) -> Iterator[Candidate]:
        """Yield the accepted values lying wholly inside ``buf[pos:endpos]``."""

    @abstractmethod
    def mask(self, value: str) -> str:
        """Return ``value`` with enough characters hidden that it identifies no one."""


class RegexRecognizer(Recognizer):
    """A recognizer whose candidates are the matches of one edge-anchored regex.

    Subclasses set ``pattern`` (the core; the trigger is the core between loose
    edges unless ``trigger`` is given) and implement :meth:`validate`.
    """

    pattern: ClassVar[bytes]
    #: when ``pattern`` is ``head`` (one character class) followed by ``tail``, the
    #: left edge is checked after the first character, which lets Python's regex
    #: engine skip quickly to positions where ``head`` matches (about 3× faster)
    head: ClassVar[bytes | None] = None
    left_edge: ClassVar[bytes] = LEFT_EDGE
    right_edge: ClassVar[bytes] = RIGHT_EDGE
    _compiled: ClassVar[re.Pattern[bytes] | None] = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "pattern" in cls.__dict__:
            if "trigger" not in cls.__dict__:
                cls.trigger = TRIGGER_LEFT + b"(?:" + cls.pattern + b")" + TRIGGER_RIGHT
            if cls.head is not None and cls.pattern.startswith(cls.head):
                # "(?<!X)" before the head becomes "(?<!X.)" after it.
                edge = cls.left_edge.replace(b")", b".)")
                tail = cls.pattern[len(cls.head) :]
                source = cls.head + edge + b"(?:" + tail + b")" + cls.right_edge
            else:
                source = cls.left_edge + b"(?:" + cls.pattern + b")" + cls.right_edge
            cls._compiled = re.compile(source)

    def find(self, buf: bytes, pos: int, endpos: int) -> Iterator[Candidate]:
        """Yield every regex match that :meth:`validate` accepts."""
        compiled = self._compiled
        assert compiled is not None  # set by __init_subclass__
        validate = self.validate
        for match in compiled.finditer(buf, pos, endpos):
            start, end = match.span()
            confidence = validate(buf, start, end)
            if confidence is not None:
                yield Candidate(start, end, confidence)

    @abstractmethod
    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Return a confidence for ``buf[start:end]``, or ``None`` to reject it."""


class Keywords:
    """Context words (matched ignoring ASCII case) near a value, within its line."""

    def __init__(self, *words: str) -> None:
        self.words = tuple(word.lower() for word in words)
        alternation = b"|".join(re.escape(word.encode("utf-8")) for word in self.words)
        self.regex = re.compile(alternation, re.IGNORECASE)

    def before(self, buf: bytes, start: int, width: int = CONTEXT_BEFORE) -> bool:
        """Tell whether a word occurs in the ``width`` bytes before ``start``."""
        low = max(0, start - width)
        newline = buf.rfind(b"\n", low, start)
        return self.regex.search(buf, newline + 1 if newline >= 0 else low, start) is not None

    def after(self, buf: bytes, end: int, width: int = CONTEXT_AFTER) -> bool:
        """Tell whether a word occurs in the ``width`` bytes after ``end``."""
        newline = buf.find(b"\n", end, end + width)
        return self.regex.search(buf, end, end + width if newline < 0 else newline) is not None


def mask_alnum(value: str, keep_start: int, keep_end: int) -> str:
    """Hide the letters and digits of ``value`` except a few at each end.

    Separators stay so the shape remains readable. At least half of the letters and
    digits are always hidden, whatever ``keep_start`` and ``keep_end`` ask for.
    """
    positions = [i for i, ch in enumerate(value) if ch.isalnum()]
    total = len(positions)
    budget = total // 2
    keep_start = min(keep_start, budget)
    keep_end = min(keep_end, budget - keep_start)
    shown = set(positions[:keep_start])
    if keep_end:
        shown.update(positions[-keep_end:])
    hidden = set(positions) - shown
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))
