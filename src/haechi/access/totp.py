"""The TOTP second factor (RFC 6238) for staff logins from outside trusted networks.

The shared secret is sealed (AES-256-GCM under a key derived from the master key, the
staff id as associated data) and never stored in plaintext. A code is accepted once:
the time step it belongs to is remembered, so a replayed code is refused.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from ipaddress import ip_address, ip_network

import pyotp

from haechi.crypto.envelope import Sealer
from haechi.crypto.keys import KeyProvider

__all__ = ["TotpBox", "from_trusted_network", "matching_step", "new_totp_secret"]

_STEP = timedelta(seconds=30)


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def matching_step(secret: str, code: str, *, now: datetime, after: int | None) -> int | None:
    """The time step ``code`` is valid for (±1 step of ``now``), unless at or before ``after``."""
    totp = pyotp.TOTP(secret)
    code = code.strip()
    for offset in (-1, 0, 1):
        moment = now + offset * _STEP
        step = totp.timecode(moment)
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.at(moment), code):
            return step
    return None


def from_trusted_network(source_ip: str | None, networks: list[str]) -> bool:
    """Whether ``source_ip`` lies in one of ``networks`` (an unknown address does not)."""
    if source_ip is None:
        return False
    try:
        address = ip_address(source_ip)
    except ValueError:
        return False
    return any(address in ip_network(network, strict=False) for network in networks)


class TotpBox:
    """Seals and opens TOTP secrets with a key derived from the master key."""

    def __init__(self, keys: KeyProvider, *, issuer: str):
        self._sealer = Sealer(keys.derive("staff-totp-v1"))
        self._issuer = issuer

    @staticmethod
    def _context(staff_id: str) -> bytes:
        return f"haechi-totp|{staff_id}".encode()

    def seal(self, secret: str, *, staff_id: str) -> bytes:
        """The sealed secret of one account."""
        return self._sealer.seal(secret, context=self._context(staff_id))

    def open(self, sealed: bytes, *, staff_id: str) -> str:
        """The secret sealed by :meth:`seal` for the same account."""
        return self._sealer.open(sealed, context=self._context(staff_id))

    def uri(self, secret: str, *, username: str) -> str:
        """The otpauth:// URI an authenticator app enrols from (shown once)."""
        return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=self._issuer)
