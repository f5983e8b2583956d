"""Versions as data: effective dates, the notice rule, and what changed between two files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from haechi.errors import InvalidInput
from haechi.policy import demo_policy_text, parse_policy
from haechi.policy.versions import (
    check_effective,
    consent_gap,
    diff_policies,
    parse_effective,
    text_diff,
)
from tests.policy.versions_helpers import variant

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_plain_date_is_midnight_in_seoul() -> None:
    """It reads 2026-04-01 as 00:00 Asia/Seoul, i.e. 15:00 UTC the day before."""
    assert parse_effective("2026-04-01") == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)


def test_a_time_with_an_offset_is_kept_and_a_naive_one_refused() -> None:
    """It takes an ISO-8601 time with an offset and refuses one without."""
    assert parse_effective("2026-04-01T09:00:00+09:00") == datetime(2026, 4, 1, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput) as naive:
        parse_effective("2026-04-01T09:00:00")
    assert naive.value.field == "effective"
    for bad in ("tomorrow", "2026-02-30", "", "9" * 100):
        with pytest.raises(InvalidInput):
            parse_effective(bad)


@pytest.mark.parametrize(
    "edge", ["0001-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
)
def test_a_date_whose_utc_is_past_the_calendar_is_invalid_input(edge: str) -> None:
    """It refuses, naming the field, a time whose UTC falls before year 1 or after 9999."""
    with pytest.raises(InvalidInput) as caught:
        parse_effective(edge)
    assert caught.value.field == "effective"


def test_the_notice_period_binds_every_version_but_the_first() -> None:
    """It refuses less than the notice period ahead, except for the very first version."""
    check_effective(NOW, now=NOW, notice_days=7, first=True, latest_effective=None)
    with pytest.raises(InvalidInput) as short:
        check_effective(
            NOW + timedelta(days=6, hours=23),
            now=NOW,
            notice_days=7,
            first=False,
            latest_effective=NOW,
        )
    assert short.value.code == "NOTICE_TOO_SHORT"
    check_effective(
        NOW + timedelta(days=7), now=NOW, notice_days=7, first=False, latest_effective=NOW
    )


def test_no_version_takes_effect_in_the_past_or_before_the_latest() -> None:
    """It refuses a past date (even for the first) and one not after the latest version's."""
    with pytest.raises(InvalidInput):
        check_effective(
            NOW - timedelta(seconds=1), now=NOW, notice_days=7, first=True, latest_effective=None
        )
    with pytest.raises(InvalidInput) as order:
        check_effective(
            NOW + timedelta(days=8),
            now=NOW,
            notice_days=7,
            first=False,
            latest_effective=NOW + timedelta(days=9),
        )
    assert order.value.code == "EFFECTIVE_OUT_OF_ORDER"


def test_the_diff_names_added_items_longer_retention_and_a_new_basis() -> None:
    """It lists what a purpose gained or lost and whether that asks for fresh consent."""
    old = variant("v1", basis="contract").policy
    new = variant("v2", add_item=True, retention="P1Y").policy
    changes = diff_policies(old, new).as_dict()
    [marketing] = changes["purposes"]["changed"]
    assert marketing["purpose"] == "marketing"
    assert marketing["items"] == {"added": ["interests"], "removed": []}
    assert marketing["retention"] == {"from": "P6M", "to": "P1Y"}
    assert marketing["legal_basis"] == {"from": "contract", "to": "consent"}
    assert marketing["needs_consent"] is True
    assert changes["items"]["added"] == ["interests"]
    assert changes["reconsent_purposes"] == ["marketing"]


def test_narrowing_asks_no_consent() -> None:
    """It marks fewer items and a shorter retention as narrowing, needing no consent."""
    old = parse_policy(demo_policy_text()).policy
    new = variant("v2", retention="P3M", drop_item="title").policy
    [marketing] = diff_policies(old, new).purposes_changed
    assert marketing.removed_items == ("title",)
    assert marketing.narrows
    assert not marketing.needs_consent
    assert consent_gap(old.purposes["marketing"], new.purposes["marketing"]).empty


def test_the_consent_gap_is_the_added_items_or_everything() -> None:
    """It leaves old items covered when items are added; nothing when consent becomes the basis."""
    old = parse_policy(demo_policy_text()).policy.purposes["marketing"]
    added = consent_gap(old, variant("v2", add_item=True).policy.purposes["marketing"])
    assert (added.everything, added.items) == (False, frozenset({"interests"}))
    contract = variant("v1", basis="contract").policy.purposes["marketing"]
    moved = consent_gap(contract, old)
    assert moved.everything


def test_identical_files_differ_in_nothing_and_the_text_diff_is_unified() -> None:
    """It finds no change between a file and itself, and diffs documents line by line."""
    policy = parse_policy(demo_policy_text()).policy
    assert diff_policies(policy, policy).as_dict()["purposes"]["changed"] == []
    diff = text_diff("a\nb\n", "a\nc\n", old_name="v1", new_name="v2")
    assert diff.splitlines()[:2] == ["--- v1", "+++ v2"]
    assert "-b" in diff
    assert "+c" in diff
