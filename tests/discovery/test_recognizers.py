"""Each recognizer accepts its valid forms and rejects look-alikes."""

from __future__ import annotations

import pytest

from haechi.discovery import FINDING_TYPES, Scanner
from haechi.discovery.recognizers import default_recognizers
from haechi.discovery.recognizers.business_registration import brn_is_valid
from haechi.discovery.recognizers.card import luhn_is_valid
from haechi.discovery.recognizers.foreign_rrn import frn_check_digit
from haechi.discovery.recognizers.rrn import rrn_check_digit

SCANNER = Scanner(engine="re", min_confidence=0.0)


def found(text: str, kind: str) -> list[float]:
    """Return the confidences of the findings of ``kind`` in ``text``."""
    return [f.confidence for f in SCANNER.scan_text(text) if f.type == kind]


VALID = [
    ("rrn", "주민번호 900101-1234568"),
    ("rrn", "RRN 8506152234565 on file"),
    ("rrn", "신청인 010203-3123451 접수"),
    ("foreign_rrn", "외국인등록번호 900101-5234561"),
    ("foreign_rrn", "ARC 0505057123456"),
    ("passport", "여권번호 M12345678"),
    ("passport", "passport no. M123A4567"),
    ("passport", "출국 S987B6543 확인"),
    ("driver_license", "운전면허 11-23-456789-01"),
    ("driver_license", "면허번호 서울 12-345678-90"),
    ("driver_license", "licence 28-99-123456-78"),
    ("business_registration", "사업자등록번호 116-82-00276"),
    ("business_registration", "거래처 116-82-00276"),
    ("phone", "연락처 010-1234-5678"),
    ("phone", "call 02-345-6789"),
    ("phone", "대표 031.234.5678"),
    ("phone", "고객센터 1588-1234"),
    ("phone", "mobile +82 10-2345-6789"),
    ("phone", "fax +82-(0)2-345-6789"),
    ("phone", "(02) 345-6789"),
    ("phone", "01023456789"),
    ("phone", "인터넷전화 070-4321-8765"),
    ("email", "mail hong.gildong@example.co.kr."),
    ("email", "<ops+alerts@corp.kakao.com>"),
    ("card", "카드 4111-1111-1111-1111"),
    ("card", "card 5500 0000 0000 0004"),
    ("card", "amex 3782 822463 10005"),
    ("card", "4111111111111111"),
    ("bank_account", "입금계좌 국민은행 123456-12-123456"),
    ("bank_account", "account 110123456789 (Shinhan bank)"),
    ("bank_account", "환불 계좌: 3333-01-1234567"),
    ("ip_address", "login from 203.0.113.7"),
    ("ip_address", "client=10.20.30.40 status=200"),
    ("ip_address", "src 2001:db8::8a2e:370:7334"),
]

INVALID = [
    ("rrn", "주문 900132-1234568"),  # day 32
    ("rrn", "900101-5234561"),  # G=5 is a foreigner's
    ("rrn", "9001011234568123"),  # part of a longer number
    ("rrn", "A900101-1234568"),  # glued to a letter
    ("foreign_rrn", "991301-5234561"),  # month 13
    ("passport", "M1234567"),  # seven digits
    ("passport", "X12345678"),  # no such type letter
    ("passport", "SKU-M123456789"),  # nine digits
    ("driver_license", "27-23-456789-01"),  # region 27 does not exist
    ("driver_license", "112345678901"),  # bare digits without a licence word
    ("business_registration", "116-82-00277"),  # check digit
    ("business_registration", "116-00-00276"),  # type 00
    ("phone", "010-0234-5678"),  # exchange 0xxx
    ("phone", "02-123-4567"),  # landline exchange 1xx
    ("phone", "010-1234 5678"),  # mixed separators
    ("phone", "15881234"),  # bare nationwide number, no phone word
    ("phone", "2023-10-15"),  # a date
    ("email", "icon@2x.png"),
    ("email", "user@localhost"),
    ("email", ".hong@example.com"),
    ("card", "4111-1111-1111-1112"),  # Luhn
    ("card", "4111-111-11111-1111"),  # layout
    ("card", "1234.5678.9012.3456"),
    ("bank_account", "123456-12-123456"),  # no account word
    ("bank_account", "계좌 12345"),  # too short
    ("ip_address", "version 1.2.3.4"),
    ("ip_address", "256.1.1.1"),
    ("ip_address", "1.2.3.4.5"),
    ("ip_address", "at 09:12:44"),
    ("ip_address", "mac 00:1A:2B:3C:4D:5E"),
    ("ip_address", "std::vector a::b"),
]


@pytest.mark.parametrize(("kind", "text"), VALID)
def test_it_accepts_valid_values(kind: str, text: str) -> None:
    """It reports each valid form at medium or high confidence."""
    confidences = found(text, kind)
    assert confidences, f"{kind} not found"
    assert max(confidences) >= 0.5


@pytest.mark.parametrize(("kind", "text"), INVALID)
def test_it_rejects_look_alikes(kind: str, text: str) -> None:
    """It reports no value of the type, or only at low confidence."""
    assert all(confidence < 0.5 for confidence in found(text, kind))


def test_it_keeps_post_2020_rrn_with_failed_check_digit_at_medium_confidence() -> None:
    """It reports a random-tail number born after 2020-10 as medium, not high."""
    body = "211105412345"
    wrong = (rrn_check_digit(body + "0") + 3) % 10
    confidences = found(f"{body[:6]}-{body[6:]}{wrong}", "rrn")
    assert confidences
    assert 0.5 <= max(confidences) < 0.8


def test_it_lowers_an_old_rrn_with_failed_check_digit() -> None:
    """It reports an old number whose check digit fails at low confidence only."""
    confidences = found("ref 900101-1234567", "rrn")
    assert confidences
    assert max(confidences) < 0.5


def test_it_keeps_post_2020_foreign_numbers_at_medium_confidence() -> None:
    """It treats a foreign number's random tail like a resident number's."""
    body = "211105712345"
    wrong = (frn_check_digit(body + "0") + 1) % 10
    confidences = found(f"{body[:6]}-{body[6:]}{wrong}", "foreign_rrn")
    assert confidences
    assert 0.5 <= max(confidences) < 0.8


def test_it_raises_confidence_with_context_words() -> None:
    """It scores an old-layout passport high only next to a passport word."""
    assert max(found("order M12345678", "passport")) < 0.5
    assert max(found("여권 M12345678", "passport")) >= 0.8


def test_check_digit_helpers_agree_with_known_numbers() -> None:
    """It validates the documented example numbers."""
    assert brn_is_valid("1168200276")
    assert not brn_is_valid("1168200275")
    assert luhn_is_valid("4111111111111111")
    assert not luhn_is_valid("4111111111111112")
    assert rrn_check_digit("9001011234560") == 8


def test_every_type_has_one_recognizer_with_a_docstring() -> None:
    """It ships one documented recognizer per finding type, named as the policy expects."""
    recognizers = default_recognizers()
    assert [r.name for r in recognizers] == list(FINDING_TYPES)
    assert set(FINDING_TYPES) == {
        "rrn", "foreign_rrn", "passport", "driver_license", "business_registration",
        "phone", "email", "card", "bank_account", "ip_address",
    }  # fmt: skip
    for recognizer in recognizers:
        module = __import__(type(recognizer).__module__, fromlist=["_"])
        doc = (module.__doc__ or "").lower()
        assert "format" in doc
        assert "check" in doc


@pytest.mark.parametrize(("kind", "text"), VALID)
def test_masks_never_show_the_value(kind: str, text: str) -> None:
    """It hides at least half of the letters and digits of every value."""
    for finding in SCANNER.scan_text(text):
        shown = sum(ch.isalnum() for ch in finding.masked)
        hidden = finding.masked.count("*")
        assert hidden >= shown
        assert finding.masked not in text
