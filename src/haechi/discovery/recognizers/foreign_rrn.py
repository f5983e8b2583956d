"""Foreign registration number (외국인등록번호).

Format: ``YYMMDD-GNNNNNC`` (hyphen optional) with G in 5–8. Checks: a real, past
birth date in the century G gives; check digit C = (13 − Σ dᵢwᵢ mod 11) mod 10
with weights 2,3,4,5,6,7,8,9,2,3,4,5. As for resident numbers, numbers issued
from October 2020 have a random tail: a failed check digit lowers the confidence
(medium for birth dates from 2020-10-01, low before) instead of rejecting.
"""

from __future__ import annotations

from typing import ClassVar

from haechi.discovery.recognizers._registration import RegistrationRecognizer
from haechi.discovery.recognizers.base import Keywords

__all__ = ["ForeignRegistrationRecognizer", "frn_check_digit"]


class ForeignRegistrationRecognizer(RegistrationRecognizer):
    """Finds foreign registration numbers; see the module docstring for the checks."""

    name = "foreign_rrn"
    label = "Foreign registration number"
    context: ClassVar[Keywords] = Keywords(
        "외국인", "등록번호", "foreign", "alien", "arc", "frn", "residence card"
    )
    check_constant: ClassVar[int] = 13
    pattern: ClassVar[bytes] = (
        rb"[0-9][0-9](?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-?[5-8][0-9]{6}"
    )


frn_check_digit = ForeignRegistrationRecognizer.check_digit
