"""E-mail address.

Format: ``local@domain.tld`` as in RFC 5322's dot-atom, restricted to the ASCII
characters seen in practice: a local part of letters, digits and ``._%+-`` (no
leading, trailing or doubled dot), a domain of dot-separated labels (letters,
digits, inner hyphens) ending in an alphabetic top-level label. Checks: the
layout, length limits (64 for the local part, 253 overall), and a top-level label
that is not a file extension (``icon@2x.png`` is an image, not an address).
Candidates are found from each ``@`` outwards, which is cheaper than a regex that
could start at every letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from haechi.discovery.recognizers.base import Candidate, Recognizer, mask_alnum

__all__ = ["EmailRecognizer"]

_LOCAL_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_DOMAIN = re.compile(rb"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})")
_AFTER = re.compile(rb"[A-Za-z0-9_-]")
FILE_EXTENSIONS = frozenset(
    b"png jpg jpeg gif svg webp bmp ico css js ts map html htm txt pdf json xml "
    b"zip gz tar py java rb go rs php md".split()
)


class EmailRecognizer(Recognizer):
    """Finds e-mail addresses; see the module docstring for the checks."""

    name = "email"
    label = "E-mail address"
    trigger: ClassVar[bytes] = rb"[A-Za-z0-9._%+-]@[A-Za-z0-9]"

    def find(self, buf: bytes, pos: int, endpos: int) -> Iterator[Candidate]:
        """Expand each ``@`` to a full address and yield the valid ones."""
        at = buf.find(b"@", pos, endpos)
        while at >= 0:
            candidate = self._expand(buf, at, pos, endpos)
            if candidate is not None:
                yield candidate
            at = buf.find(b"@", at + 1, endpos)

    def _expand(self, buf: bytes, at: int, pos: int, endpos: int) -> Candidate | None:
        start = at
        floor = max(pos, at - 64)
        while start > floor and buf[start - 1] in _LOCAL_CHARS:
            start -= 1
        if start == floor and start > pos and buf[start - 1] in _LOCAL_CHARS:
            return None  # local part longer than 64
        local = buf[start:at]
        if not local or local[0] == 0x2E or local[-1] == 0x2E or b".." in local:
            return None
        match = _DOMAIN.match(buf, at + 1, endpos)
        if match is None:
            return None
        end = match.end()
        if _AFTER.match(buf, end, endpos) or end - start > 253:
            return None
        if match.group(1).lower() in FILE_EXTENSIONS:
            return None
        return Candidate(start, end, 0.95)

    def mask(self, value: str) -> str:
        """Keep the first character of the local part and the top-level domain."""
        local, _, domain = value.partition("@")
        host, _, tld = domain.rpartition(".")
        return f"{mask_alnum(local, 1, 0)}@{mask_alnum(host, 1, 0)}.{tld}"
