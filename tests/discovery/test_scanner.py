"""The scanner: engines agree, overlaps resolve, policy declarations show, text API."""

from __future__ import annotations

import random

import pytest

from haechi.discovery import Scanner, find_identifiers, hyperscan_available
from haechi.discovery.prefilter import RePrefilter, make_prefilter
from haechi.discovery.recognizers import default_recognizers
from haechi.errors import ConfigurationError, InvalidInput

needs_hyperscan = pytest.mark.skipif(
    not hyperscan_available(), reason="the hyperscan wheel is not installed on this machine"
)

SAMPLE = """홍길동 주민번호 900101-1234568, 전화 010-1234-5678, hong@example.co.kr
card 4111 1111 1111 1111 계좌 국민은행 123456-12-123456 from 192.168.0.10
사업자등록번호 116-82-00276 여권 M123A4567 면허 11-12-123456-12
version 1.2.3.4 주문 2023-10-15 금액 1,234,567원 icon@2x.png
"""


def mixed_corpus(lines: int, seed: int) -> str:
    """Build text with identifiers, look-alikes and noise in random order."""
    rng = random.Random(seed)
    parts = [
        "주민번호 900101-1234568", "010-2345-6789", "a.b@example.com", "4111-1111-1111-1111",
        "계좌 110-123-456789", "10.0.0.1", "fe80::1", "M12345678", "여권 M123A4567",
        "11-23-456789-01", "116-82-00276", "1588-1234", "+82 2 345 6789", "2023-10-15",
        "1,234,567", "v1.2.3", "12:30:45", "ORD-20231015-000123", "1697356800000", "안녕하세요",
        "ticket 900101-1234567", "4111111111111112", "x@2x.png", "A900101-1234568",
    ]  # fmt: skip
    out = []
    for _ in range(lines):
        out.append(" ".join(rng.choice(parts) for _ in range(rng.randrange(0, 6))))
    return "\n".join(out)


def test_it_finds_every_type_in_mixed_text() -> None:
    """It finds each kind of identifier in one text, with line and column."""
    findings = Scanner(engine="re").scan_text(SAMPLE, source="memo")
    kinds = {f.type for f in findings}
    assert kinds == {
        "rrn", "phone", "email", "card", "bank_account", "ip_address",
        "business_registration", "passport", "driver_license",
    }  # fmt: skip
    rrn = next(f for f in findings if f.type == "rrn")
    assert (rrn.location.line, rrn.location.column) == (1, 10)
    assert str(rrn.location) == "memo:1:10"


@needs_hyperscan
def test_engines_give_the_same_findings() -> None:
    """It gives identical findings whether Hyperscan or Python re prefilters."""
    text = mixed_corpus(3000, seed=3)
    with_re = Scanner(engine="re", min_confidence=0.0).scan_text(text)
    with_hs = Scanner(engine="hyperscan", min_confidence=0.0).scan_text(text)
    assert with_re == with_hs
    assert len(with_re) > 1000


@needs_hyperscan
def test_auto_engine_prefers_hyperscan() -> None:
    """It picks Hyperscan when the bindings import."""
    assert Scanner().engine == "hyperscan"


def test_re_engine_works_without_hyperscan() -> None:
    """It runs the pure-Python prefilter when asked to."""
    scanner = Scanner(engine="re")
    assert scanner.engine == "re"
    assert isinstance(make_prefilter("re", default_recognizers()), RePrefilter)
    assert scanner.scan_text("tel 010-2345-6789")[0].type == "phone"


def test_it_refuses_an_unknown_engine() -> None:
    """It names the field when the engine is not one it knows."""
    with pytest.raises(InvalidInput) as error:
        Scanner(engine="pcre")
    assert error.value.field == "engine"


@pytest.mark.skipif(hyperscan_available(), reason="only meaningful where hyperscan is missing")
def test_it_refuses_hyperscan_when_missing() -> None:
    """It reports a configuration error instead of silently falling back."""
    with pytest.raises(ConfigurationError):
        Scanner(engine="hyperscan")


def test_it_refuses_unknown_types() -> None:
    """It names the unknown finding type's field."""
    with pytest.raises(InvalidInput) as error:
        Scanner(types=["ssn"])
    assert error.value.field == "types"


def test_it_limits_itself_to_the_types_asked_for() -> None:
    """It reports only the requested types."""
    findings = Scanner(engine="re", types=["email"]).scan_text(SAMPLE)
    assert {f.type for f in findings} == {"email"}


def test_it_marks_declared_types() -> None:
    """It tells, per finding, whether the policy declares that type."""
    findings = Scanner(engine="re", declared_types={"phone", "email"}).scan_text(SAMPLE)
    declared = {f.type for f in findings if f.declared}
    assert declared == {"phone", "email"}
    assert any(not f.declared for f in findings)


def test_overlapping_claims_keep_the_most_confident() -> None:
    """It reports one finding for bytes two recognizers claim."""
    findings = Scanner(engine="re").scan_text("입금 계좌 010-2345-6789")
    assert [f.type for f in findings] == ["phone"]


def test_find_identifiers_is_a_quick_free_text_check() -> None:
    """It returns the identifiers typed into a free-text value, masked."""
    findings = find_identifiers("배송 메모: 문 앞에 두세요. 연락처 010-9876-5432")
    assert [f.type for f in findings] == ["phone"]
    assert "9876" not in findings[0].masked
    assert find_identifiers("배송 메모: 문 앞에 두세요") == []


def test_find_identifiers_ignores_low_confidence() -> None:
    """It leaves out look-alikes that only reach low confidence."""
    assert find_identifiers("order M12345678") == []


def test_mask_text_hides_every_identifier() -> None:
    """It rewrites text so no identifier is left in clear."""
    masked = Scanner(engine="re").mask_text(SAMPLE)
    for value in ("900101-1234568", "010-1234-5678", "hong@example.co.kr", "192.168.0.10"):
        assert value not in masked
    assert "version 1.2.3.4" in masked


def test_columns_count_characters_not_bytes() -> None:
    """It gives the column in characters on a line with Korean text."""
    finding = Scanner(engine="re").scan_text("가나다 010-2345-6789")[0]
    assert finding.location.column == 5


def test_comma_separated_fields_are_separate_values() -> None:
    """It finds identifiers in adjacent CSV fields: a comma ends a value."""
    from haechi.discovery import Scanner

    found = Scanner().scan_text("Kim,900101-1234568,010-2345-6789,10.1.2.3,ok")
    assert sorted(finding.type for finding in found) == ["ip_address", "phone", "rrn"]
