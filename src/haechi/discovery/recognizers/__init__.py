"""One recognizer per identifier type, each in its own module.

:func:`default_recognizers` returns them in priority order: when two recognizers
claim overlapping text with equal confidence, the earlier one wins.
"""

from __future__ import annotations

from haechi.discovery.recognizers.bank_account import BankAccountRecognizer
from haechi.discovery.recognizers.base import Candidate, Recognizer, RegexRecognizer
from haechi.discovery.recognizers.business_registration import BusinessRegistrationRecognizer
from haechi.discovery.recognizers.card import CardRecognizer
from haechi.discovery.recognizers.driver_license import DriverLicenseRecognizer
from haechi.discovery.recognizers.email_address import EmailRecognizer
from haechi.discovery.recognizers.foreign_rrn import ForeignRegistrationRecognizer
from haechi.discovery.recognizers.ip_address import IpAddressRecognizer
from haechi.discovery.recognizers.passport import PassportRecognizer
from haechi.discovery.recognizers.phone import PhoneRecognizer
from haechi.discovery.recognizers.rrn import ResidentRegistrationRecognizer

__all__ = [
    "FINDING_TYPES",
    "BankAccountRecognizer",
    "BusinessRegistrationRecognizer",
    "Candidate",
    "CardRecognizer",
    "DriverLicenseRecognizer",
    "EmailRecognizer",
    "ForeignRegistrationRecognizer",
    "IpAddressRecognizer",
    "PassportRecognizer",
    "PhoneRecognizer",
    "Recognizer",
    "RegexRecognizer",
    "ResidentRegistrationRecognizer",
    "default_recognizers",
]

_DEFAULT: tuple[type[Recognizer], ...] = (
    ResidentRegistrationRecognizer,
    ForeignRegistrationRecognizer,
    PassportRecognizer,
    DriverLicenseRecognizer,
    BusinessRegistrationRecognizer,
    PhoneRecognizer,
    EmailRecognizer,
    CardRecognizer,
    BankAccountRecognizer,
    IpAddressRecognizer,
)

#: every finding type name the default recognizers report, in priority order
FINDING_TYPES: tuple[str, ...] = tuple(cls.name for cls in _DEFAULT)


def default_recognizers() -> list[Recognizer]:
    """Return a fresh instance of every built-in recognizer, in priority order."""
    return [cls() for cls in _DEFAULT]
