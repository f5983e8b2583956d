"""Korean passport number (여권번호).

Formats: a type letter M, S, R, G or D followed by eight digits (issued until
2021-12), or by three digits, one letter and four digits (issued from 2021-12).
There is no public check digit, so the check is the layout plus nearby words:
the new layout alone scores medium, the old one (which order codes often share)
low, and a passport word before the value (여권, passport…) raises either to high.
"""

from __future__ import annotations

from typing import ClassVar

from haechi.discovery.recognizers.base import (
    Keywords,
    RegexRecognizer,
    mask_alnum,
)

__all__ = ["PassportRecognizer"]

CONTEXT = Keywords("여권", "passport", "pass no", "pp no", "pp#", "travel document")


class PassportRecognizer(RegexRecognizer):
    """Finds passport numbers; see the module docstring for the checks."""

    name = "passport"
    label = "Passport number"
    head: ClassVar[bytes | None] = rb"[MSRGD]"
    pattern: ClassVar[bytes] = rb"[MSRGD](?:[0-9]{8}|[0-9]{3}[A-Z][0-9]{4})"

    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Score a candidate by layout and nearby words."""
        new_layout = buf[start + 4 : start + 5].isalpha()
        if CONTEXT.before(buf, start):
            return 0.95 if new_layout else 0.9
        return 0.6 if new_layout else 0.35

    def mask(self, value: str) -> str:
        """Keep the type letter only."""
        return mask_alnum(value, 1, 0)
