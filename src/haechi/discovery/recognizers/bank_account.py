"""Bank account number (계좌번호).

Format: 10–14 digits, bare or in hyphen-separated groups; the layout is
bank-specific and there is no public check digit. Check: an account word (계좌,
입금, 은행, account…) or a bank's name must stand within the same line close
before or after the number, otherwise nothing is reported. A layout that a major
bank uses (KB 6-2-6, Shinhan 3-3-6, Woori 4-3-6, Hana 3-6-5, NH 3-4-4-2,
IBK 3-6-2-3, KakaoBank 4-2-7, SC 3-2-6, Citi 3-6-3, K bank 3-3-6, Toss 4-4-4)
raises the confidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from haechi.discovery.recognizers.base import (
    Candidate,
    Keywords,
    RegexRecognizer,
    mask_alnum,
)

__all__ = ["CONTEXT", "BankAccountRecognizer"]

CONTEXT = Keywords(
    "계좌", "입금", "송금", "이체", "예금주", "은행", "뱅크", "농협", "국민", "신한", "우리",
    "하나", "기업", "새마을", "우체국", "수협", "신협", "카카오", "토스",
    "account", "acct", "a/c", "bank", "deposit", "wire", "kb", "ibk", "nh",
)  # fmt: skip
WORDS = tuple(word.encode("utf-8") for word in CONTEXT.words)
BANK_LAYOUTS = frozenset(
    {
        (6, 2, 6), (3, 3, 6), (4, 3, 6), (3, 6, 5), (3, 4, 4, 2), (3, 6, 2, 3),
        (4, 2, 7), (3, 2, 6), (3, 6, 3), (4, 4, 4), (3, 2, 4, 3), (3, 4, 4),
    }
)  # fmt: skip
_GROUPS = re.compile(rb"[0-9]+")


class BankAccountRecognizer(RegexRecognizer):
    """Finds bank account numbers next to account words; see the module docstring."""

    name = "bank_account"
    label = "Bank account number"
    pattern: ClassVar[bytes] = rb"[0-9]{2,6}-[0-9]{2,7}-[0-9]{1,7}(?:-[0-9]{1,3})?|[0-9]{10,14}"
    # Only a line with an account word can hold an accepted number.
    trigger: ClassVar[bytes] = CONTEXT.regex.pattern
    trigger_caseless: ClassVar[bool] = True

    def find(self, buf: bytes, pos: int, endpos: int) -> Iterator[Candidate]:
        """Look for numbers only in the lines that hold an account word."""
        # bytes.find per word on a lower-cased copy beats one case-blind regex by far.
        lowered = buf[pos:endpos].lower()
        lines: set[tuple[int, int]] = set()
        for word in WORDS:
            at = lowered.find(word)
            while at >= 0:
                start = lowered.rfind(b"\n", 0, at) + 1
                end = lowered.find(b"\n", at)
                if end < 0:
                    end = len(lowered)
                lines.add((pos + start, pos + end))
                at = lowered.find(word, end)
        for start, end in sorted(lines):
            yield from super().find(buf, start, end)

    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Require an account word nearby; score by layout."""
        raw = buf[start:end]
        groups = tuple(len(group) for group in _GROUPS.findall(raw))
        if not 10 <= sum(groups) <= 14:
            return None
        if not (CONTEXT.before(buf, start) or CONTEXT.after(buf, end, 16)):
            return None
        return 0.85 if groups in BANK_LAYOUTS else 0.7

    def mask(self, value: str) -> str:
        """Keep the last three digits only."""
        return mask_alnum(value, 0, 3)
