"""Resident registration number (주민등록번호).

Format: ``YYMMDD-GNNNNNC`` (hyphen optional), G in 1–4 (9 or 0 for people born in
the 1800s). Checks: the first six digits are a real, past birth date in the
century G gives; check digit C = (11 − Σ dᵢwᵢ mod 11) mod 10 with weights
2,3,4,5,6,7,8,9,2,3,4,5. Numbers issued from October 2020 carry a random tail, so
a failed check digit lowers the confidence instead of rejecting the number: to
medium when the birth date is on or after 2020-10-01 (such a number can only be a
new one), to low otherwise.
"""

from __future__ import annotations

from typing import ClassVar

from haechi.discovery.recognizers._registration import RegistrationRecognizer
from haechi.discovery.recognizers.base import Keywords

__all__ = ["ResidentRegistrationRecognizer", "rrn_check_digit"]


class ResidentRegistrationRecognizer(RegistrationRecognizer):
    """Finds resident registration numbers; see the module docstring for the checks."""

    name = "rrn"
    label = "Resident registration number"
    context: ClassVar[Keywords] = Keywords(
        "주민", "주민번호", "주민등록", "rrn", "resident", "생년월일", "jumin"
    )
    check_constant: ClassVar[int] = 11
    pattern: ClassVar[bytes] = (
        rb"[0-9][0-9](?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-?[0-49][0-9]{6}"
    )


rrn_check_digit = ResidentRegistrationRecognizer.check_digit
