"""Policy files: the demo is valid; every kind of mistake is reported with its location."""

from __future__ import annotations

from pathlib import Path

import pytest

from haechi.errors import PolicyInvalid
from haechi.policy import check_policy_text, demo_policy_text, load_policy, parse_policy

DEMO = demo_policy_text()


def locations(text: str) -> dict[str, str]:
    return {problem.location: problem.message for problem in check_policy_text(text)}


def test_demo_policy_is_valid_and_carries_the_reference_facts() -> None:
    """It declares complaints and service for a year, marketing for six months, optional."""
    policy = parse_policy(DEMO).policy
    assert set(policy.purposes) == {"complaints", "service", "marketing"}
    assert policy.purposes["complaints"].retention == "P1Y"
    assert policy.purposes["service"].retention == "P1Y"
    assert policy.purposes["marketing"].retention == "P6M"
    assert policy.purposes["marketing"].consent.value == "optional"
    expected = ["name", "contact", "email", "company", "department", "title"]
    assert all(purpose.items == expected for purpose in policy.purposes.values())
    assert policy.rights.response_days == 10
    assert policy.destruction.grace_days == 5
    assert policy.notice.days == 7
    assert policy.access_log.retention == "P1Y"


def test_malformed_toml_is_located_by_line() -> None:
    """It reports malformed TOML with its line and column."""
    problems = check_policy_text('version = "1"\ncontroller = = 3\n')
    assert len(problems) == 1
    assert problems[0].location.startswith("line 2")
    assert "malformed TOML" in problems[0].message


def test_purpose_naming_an_undeclared_item() -> None:
    """It names the purpose, the list and the index of an undeclared item."""
    text = DEMO.replace(
        'items = ["name", "contact", "email", "company", "department", "title"]\nretention = "P6M"',
        'items = ["name", "contact", "email", "company", "department", "title", "birthday"]\n'
        'retention = "P6M"',
    )
    problems = locations(text)
    assert "purposes.marketing.items[6]" in problems
    assert "birthday" in problems["purposes.marketing.items[6]"]


def test_zero_retention() -> None:
    """It refuses a retention of zero."""
    problems = locations(DEMO.replace('retention = "P6M"', 'retention = "P0M"'))
    assert "zero" in problems["purposes.marketing.retention"]


def test_retention_that_is_not_a_duration() -> None:
    """It refuses a retention that is not an ISO-8601 duration."""
    problems = locations(DEMO.replace('retention = "P6M"', 'retention = "six months"'))
    assert "ISO-8601" in problems["purposes.marketing.retention"]


def test_notice_period_under_seven_days() -> None:
    """It refuses a notice period under 7 days."""
    problems = locations(DEMO.replace("[notice]\ndays = 7", "[notice]\ndays = 3"))
    assert "notice.days" in problems


def test_access_log_retention_below_the_legal_floor() -> None:
    """It refuses an access-log retention under one year, whatever the old policy said."""
    problems = locations(
        DEMO.replace('[access_log]\nretention = "P1Y"', '[access_log]\nretention = "P6M"')
    )
    assert "legal floor" in problems["access_log.retention"]


def test_every_problem_is_reported_at_once() -> None:
    """It reports shape errors and cross-reference errors together."""
    text = (
        DEMO.replace("[notice]\ndays = 7", "[notice]\ndays = 1")
        .replace('retention = "P6M"', 'retention = "P0D"')
        .replace("grace_days = 5", "grace_days = 5\nshred = true")
        .replace(
            '"title"]\nretention = "P1Y"\nlegal_basis = "consent"\nconsent = "required"\n\n'
            "[purposes.service]",
            '"title", "fax"]\nretention = "P1Y"\nlegal_basis = "consent"\n'
            'consent = "required"\n\n[purposes.service]',
        )
    )
    problems = locations(text)
    assert {
        "notice.days",
        "purposes.marketing.retention",
        "destruction.shred",
        "purposes.complaints.items[6]",
    } <= set(problems)
    assert "unknown key" in problems["destruction.shred"]


def test_identifier_item_needs_a_format() -> None:
    """It refuses an identifier item without a format, and a format on other kinds."""
    text = DEMO.replace(
        '[items.title]\nlabel = { ko = "직책", en = "Job title" }\nkind = "text"',
        '[items.title]\nlabel = { ko = "직책", en = "Job title" }\nkind = "identifier"',
    ).replace('kind = "email"', 'kind = "email"\nformat = "passport"')
    problems = locations(text)
    assert "items.title.format" in problems
    assert "items.email.format" in problems


def test_response_days_over_the_law() -> None:
    """It refuses a rights response period longer than the law's 10 days."""
    assert "rights.response_days" in locations(
        DEMO.replace("response_days = 10", "response_days = 30")
    )


def test_load_policy_raises_with_every_problem(tmp_path: Path) -> None:
    """It raises PolicyInvalid carrying each problem."""
    path = tmp_path / "policy.toml"
    path.write_text(DEMO.replace("days = 7", "days = 2"), encoding="utf-8")
    with pytest.raises(PolicyInvalid) as caught:
        load_policy(path)
    assert [problem.location for problem in caught.value.problems] == ["notice.days"]


def test_missing_file(tmp_path: Path) -> None:
    """It says the file is missing rather than raising an OSError."""
    with pytest.raises(PolicyInvalid, match="not found"):
        load_policy(tmp_path / "nope.toml")


def test_version_id_follows_the_text() -> None:
    """It gives a different version id to a different text."""
    assert parse_policy(DEMO).version_id != parse_policy(DEMO + "\n# edited\n").version_id
