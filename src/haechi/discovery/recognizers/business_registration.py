"""Business registration number (사업자등록번호).

Format: ``NNN-NN-NNNNN`` (hyphens optional); the middle pair (type of business) is
never 00. Check: with weights 1,3,7,1,3,7,1,3,5 on the first nine digits,
S = Σ dᵢwᵢ + ⌊d₉·5/10⌋ and the tenth digit must equal (10 − S mod 10) mod 10
(e.g. 116-82-00276). A number failing the check is rejected. One in ten random
numbers passes, so bare ten digits score low unless a business word is near,
and an account word near a number with no business word lowers it further.
"""

from __future__ import annotations

from typing import ClassVar

from haechi.discovery.recognizers.bank_account import CONTEXT as ACCOUNT_CONTEXT
from haechi.discovery.recognizers.base import (
    Keywords,
    RegexRecognizer,
    mask_alnum,
)

__all__ = ["BusinessRegistrationRecognizer", "brn_is_valid"]

WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
CONTEXT = Keywords("사업자", "등록번호", "business", "brn", "tax id", "company reg", "법인")


def brn_is_valid(digits: str) -> bool:
    """Tell whether ten digits carry a valid business registration check digit."""
    if len(digits) != 10 or not digits.isdigit() or digits[3:5] == "00":
        return False
    values = [int(d) for d in digits]
    total = sum(d * w for d, w in zip(values[:9], WEIGHTS, strict=True))
    total += values[8] * 5 // 10
    return (10 - total % 10) % 10 == values[9]


class BusinessRegistrationRecognizer(RegexRecognizer):
    """Finds business registration numbers; see the module docstring for the checks."""

    name = "business_registration"
    label = "Business registration number"
    head: ClassVar[bytes | None] = rb"[0-9]"
    pattern: ClassVar[bytes] = rb"[0-9][0-9]{2}(?:-[0-9]{2}-|[0-9]{2})[0-9]{5}"

    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Reject a failed check digit; score by layout and nearby words."""
        raw = buf[start:end]
        if not brn_is_valid(raw.replace(b"-", b"").decode("ascii")):
            return None
        if CONTEXT.before(buf, start):
            return 0.95
        if ACCOUNT_CONTEXT.before(buf, start) or ACCOUNT_CONTEXT.after(buf, end, 16):
            return 0.3
        return 0.8 if b"-" in raw else 0.4

    def mask(self, value: str) -> str:
        """Keep the tax office code (first three digits) only."""
        return mask_alnum(value, 3, 0)
