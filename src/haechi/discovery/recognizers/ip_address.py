"""IP address (IPv4 and IPv6).

Formats: dotted-quad IPv4 (``203.0.113.7``) and IPv6 text forms (RFC 4291 §2.2:
eight groups, ``::`` compression, an embedded IPv4 tail). Checks: the standard
library's :mod:`ipaddress` parser (octets 0–255, no leading zeros, valid
compression); a value followed by another ``.digit`` group or preceded by a
version word (v, ver, version, 버전) is a version string, not an address; an
IPv6 candidate needs two groups with at least four hex digits in all, so
``a::b`` in source code is not taken. Loopback, unspecified and documentation-size
values like ``1.2.3.4`` (every octet below ten) score low.
"""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar

from haechi.discovery.recognizers.base import RegexRecognizer, mask_alnum

__all__ = ["IpAddressRecognizer"]

_VERSION_WORD = re.compile(
    rb"(?:(?<![A-Za-z])v|ver\.?|version|release|\xeb\xb2\x84\xec\xa0\x84)[ :=]*\Z", re.IGNORECASE
)  # \xeb… is 버전
_HEX = frozenset(b"0123456789abcdefABCDEF")


class IpAddressRecognizer(RegexRecognizer):
    """Finds IPv4 and IPv6 addresses; see the module docstring for the checks."""

    name = "ip_address"
    label = "IP address"
    left_edge: ClassVar[bytes] = rb"(?<![0-9A-Za-z.:])"
    right_edge: ClassVar[bytes] = rb"(?![0-9A-Za-z:])(?![.][0-9])"
    pattern: ClassVar[bytes] = (
        rb"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
        rb"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?::[0-9]{1,3}(?:\.[0-9]{1,3}){3})?"
    )
    # An accepted IPv6 value has "::" or eight groups (six before an IPv4 tail), so
    # clock times like 09:12:44 do not wake the recognizer.
    trigger: ClassVar[bytes] = (
        rb"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]"
        rb"|[0-9A-Fa-f]::|::[0-9A-Fa-f]|(?:[0-9A-Fa-f]{1,4}:){6}[0-9A-Fa-f]"
    )

    def validate(self, buf: bytes, start: int, end: int) -> float | None:
        """Parse the candidate; reject version strings; score special ranges low."""
        raw = buf[start:end]
        text = raw.decode("ascii")
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
        if address.version == 4:
            if _VERSION_WORD.search(buf, max(0, start - 12), start):
                return None
            if all(len(octet) == 1 for octet in text.split(".")):
                return 0.3
        else:
            hex_digits = sum(1 for byte in raw if byte in _HEX)
            groups = [group for group in text.split(":") if group]
            if len(groups) < 2 or hex_digits < 4:
                return None
        if address.is_loopback or address.is_unspecified:
            return 0.3
        return 0.85

    def mask(self, value: str) -> str:
        """Keep the first group (network part) only."""
        if "." in value and ":" not in value:
            first, _, rest = value.partition(".")
            return first + "." + ".".join("*" * len(part) for part in rest.split("."))
        return mask_alnum(value, 4, 0)
