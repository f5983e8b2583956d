"""Korean driver's licence number (운전면허번호).

Format: ``RR-YY-NNNNNN-NN``: region RR 11–26 or 28, year of issue YY, serial and
check digits. Older cards print the region name instead of its code
(``서울 12-345678-90``). There is no public check digit: the checks are the
region code and the layout. The hyphenated form scores medium-high, the region
name form high, and the bare twelve digits only count next to a licence word
(면허, licence…).
"""

from __future__ import annotations

from typing import ClassVar

from haechi.discovery.recognizers.base import (
    Keywords,
    RegexRecognizer,
    mask_alnum,
)

__all__ = ["DriverLicenseRecognizer"]

REGIONS = (
    "서울", "부산", "경기", "강원", "충북", "충남", "전북", "전남", "경북", "경남",
    "제주", "대구", "인천", "광주", "대전", "울산",
)  # fmt: skip
REGION_ALTERNATION = b"|".join(region.encode("utf-8") for region in REGIONS)
CONTEXT = Keywords("면허", "운전", "licence", "license", "driver", "dl no", "dl#")


class DriverLicenseRecognizer(RegexRecognizer):
    """Finds driver's licence numbers; see the module docstring for the checks."""

    name = "driver_license"
    label = "Driver's licence number"
    pattern: ClassVar[bytes] = (
        rb"(?:1[1-9]|2[0-68])(?:-[0-9]{2}-[0-9]{6}-|[0-9]{8})[0-9]{2}"
        rb"|(?:" + REGION_ALTERNATION + rb")[ -]?[0-9]{2}-[0-9]{6}-[0-9]{2}"
    )
    # The region name is not ASCII, so the left edge must not reject a Hangul byte
    # sequence; only ASCII letters and digits do.

    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Score a candidate by layout and nearby words."""
        raw = buf[start:end]
        context = CONTEXT.before(buf, start)
        if raw[:1].isdigit():
            if b"-" not in raw:
                return 0.75 if context else None
            return 0.95 if context else 0.75
        return 0.97 if context else 0.9

    def mask(self, value: str) -> str:
        """Keep the region (code or name) only."""
        region_chars = 2
        head, tail = value[:region_chars], value[region_chars:]
        return head + mask_alnum(tail, 0, 0)
