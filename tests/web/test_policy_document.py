"""The published policy states what the engine enforces, in both languages and formats."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest

from haechi import ConsentEvidence, Engine
from haechi.access.passwords import Passwords
from haechi.config import Settings
from haechi.crypto.keys import DATA_KEY_BYTES, LocalKeyProvider, new_data_key
from haechi.engine import SYSTEM
from haechi.policy import Policy, demo_policy_text, parse_policy
from haechi.web import render_policy
from tests.conftest import Database, FakeClock, cheap_auth
from tests.web.reading import Document, markdown_headings, period_of, read_html

DEMO = demo_policy_text()
POLICY = parse_policy(DEMO).policy


def html(policy: Policy = POLICY, settings: Settings | None = None, lang: str = "en") -> Document:
    return read_html(render_policy(policy, settings or Settings(), lang=lang, fmt="html"))


def heading(document: Document, prefix: str) -> str:
    return next(text for _, text in document.headings if text.startswith(prefix))


def span(period: object) -> tuple[int, int, int]:
    return (period.years, period.months, period.days)  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_html_is_one_whole_accessible_page(lang: str) -> None:
    """It is a whole page in its language: one h1, ordered headings, headed tables, print CSS."""
    document = html(lang=lang)
    assert document.doctype.lower() == "doctype html"
    assert document.lang == lang
    levels = [level for level, _ in document.headings]
    assert levels.count(1) == 1
    assert levels[0] == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
    assert document.tables
    for table in document.tables:
        cells = [cell for row in table for cell in row]
        headers = [cell for cell in cells if cell.tag == "th"]
        assert headers
        assert all(cell.scope in ("col", "row") for cell in headers)
    assert "@media print" in "".join(document.styles)
    assert document.assets == []  # nothing loaded from another host, or at all
    assert all(link.startswith(("https://", "http://", "mailto:")) for link in document.links)


def test_sections_follow_the_writing_guideline() -> None:
    """It orders the sections as the regulator's writing guideline does."""
    titles = [text for level, text in html().headings if level == 2]
    assert [re.sub(r"^\d+\. ", "", title) for title in titles] == [
        "Why we process personal information",
        "How long we keep it",
        "What we process",
        "How we destroy it",
        "Your rights and how to exercise them",
        "How we keep it safe",
        "Privacy officer and the team handling requests",
        "Where else to turn",
        "Revision history",
    ]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_purpose_item_and_retention_is_the_policy_file(lang: str) -> None:
    """It states each purpose's retention, legal hold and items exactly as the engine reads them."""
    document = html(lang=lang)
    retention = document.table_after(heading(document, "2."))
    items = document.table_after(heading(document, "3."))
    assert set(retention) == {purpose.label.get(lang) for purpose in POLICY.purposes.values()}
    for purpose in POLICY.purposes.values():
        label = purpose.label.get(lang)
        kept_for, after = retention[label]
        assert span(period_of(kept_for)) == span(purpose.retention_period)
        if purpose.legal_hold is not None:
            assert span(period_of(after)) == span(purpose.legal_hold.retention_period)
            assert purpose.legal_hold.statute_text(lang) in after
        required, optional = items[label]
        assert required.split(", ") == [
            POLICY.items[name].label.get(lang) for name in purpose.items
        ]
        assert purpose.optional_items or optional in ("None", "없음")


def test_deadlines_are_the_policy_files() -> None:
    """It states the destruction grace days and the rights response deadline of the file."""
    edited = parse_policy(
        DEMO.replace("grace_days = 5", "grace_days = 3").replace(
            "response_days = 10", "response_days = 7"
        )
    ).policy
    for policy in (POLICY, edited):
        document = html(policy)
        destruction = document.section("Deadline")
        assert re.findall(r"within (\d+) days", destruction) == [str(policy.destruction.grace_days)]
        rights = document.table_after("Rights")
        answered = {right: cells[0] for right, cells in rights.items()}
        assert (
            answered["Access to your data"] == f"Answered within {policy.rights.response_days} days"
        )
        assert answered["Withdrawal of consent"].startswith("Without delay")


def test_technical_measures_are_read_from_the_settings() -> None:
    """It states the cipher, log retention, sealing, lockout, second factor and timeout in force."""
    settings = Settings(
        auth=cheap_auth(lockout_threshold=7, idle_timeout_minutes=45),
        audit={"seal_interval_seconds": 2.5, "large_installation_subjects": 80_000},
        monitor={"distinct_subjects_per_hour": 250},
    )
    for chosen in (Settings(), settings):
        measures = html(settings=chosen).section("Technical measures")
        # The cipher named is the one the engine uses: AES-GCM under 256-bit data keys.
        assert len(new_data_key()) == DATA_KEY_BYTES == 32
        assert "encrypted with AES-256-GCM under a key of its own collection" in measures
        assert f"locked after {chosen.auth.lockout_threshold} failed logins" in measures
        assert f"ends after {chosen.auth.idle_timeout_minutes} idle minutes" in measures
        assert f"sealed every {chosen.audit.seal_interval_seconds:g} s" in measures
        assert "Merkle tree" in measures
        assert "signed tree heads" in measures
        assert Passwords(chosen.auth).hash("a long passphrase").startswith("$argon2id$")
        assert "second factor" in measures
        assert "Argon2id" in measures
        assert f"more than {chosen.monitor.distinct_subjects_per_hour} people" in measures
        kept = re.search(r"kept for (.+?), or (.+?) once we hold data on ([\d,]+) people", measures)
        assert kept is not None
        assert span(period_of(kept.group(1))) == span(POLICY.access_log.retention_period)
        assert span(period_of(kept.group(2))) == (2, 0, 0)
        assert int(kept.group(3).replace(",", "")) == chosen.audit.large_installation_subjects


def test_declared_measures_follow_the_file() -> None:
    """It lists the declared managerial and physical measures, with the audit's frequency."""
    document = html()
    managerial = document.section("Managerial measures")
    assert "in-house, every quarter" in managerial
    monthly = parse_policy(
        DEMO.replace(
            'kind = "in_house_audit"\nfrequency = "P3M"',
            'kind = "in_house_audit"\nfrequency = "P1M"',
        )
    ).policy
    assert "in-house, every month" in html(monthly).section("Managerial measures")
    assert "lock" in document.section("Physical measures")
    assert "Anti-virus" in document.section("Technical measures")


def test_officer_and_remedies_are_the_files() -> None:
    """It gives the privacy officer's and team's contacts and every remedy with its phone."""
    document = html()
    officer = document.table_after("Privacy officer")
    assert officer["Phone"] == [POLICY.privacy_officer.phone]
    assert officer["Email"] == [POLICY.privacy_officer.email]
    assert document.table_after("Team handling requests")["Fax"] == [POLICY.handling_team.fax]
    remedies = document.table_after(heading(document, "8."))
    assert {name: cells[1] for name, cells in remedies.items()} == {
        remedy.name.en: remedy.phone for remedy in POLICY.remedies
    }
    assert {"118", "1833-6972", "1301", "182"} == {remedy.phone for remedy in POLICY.remedies}
    assert f"This version: {POLICY.version}" in document.section("Revision history")


def test_korean_states_the_same_figures() -> None:
    """It gives the Korean document the same retention, deadlines and thresholds."""
    document = html(lang="ko")
    assert document.table_after(heading(document, "2."))["마케팅 및 광고"][0] == "6개월"
    assert "5일 이내에 파기" in document.text
    assert "10일 이내에 답변" in document.text
    assert "연속 5회 실패" in document.text
    assert "30분 동안" in document.text
    assert "개인정보 처리방침" in document.headings[0][1]


def test_markdown_has_the_same_headings_and_figures() -> None:
    """It renders the same sections and facts as Markdown, escaping what would format."""
    for lang in ("ko", "en"):
        markdown = render_policy(POLICY, Settings(), lang=lang, fmt="md")
        assert markdown_headings(markdown) == html(lang=lang).headings
        for purpose in POLICY.purposes.values():
            assert purpose.label.get(lang) in markdown
        for remedy in POLICY.remedies:
            assert f"| {remedy.phone} |" in markdown
    odd = parse_policy(
        DEMO.replace(
            'label = { ko = "마케팅 및 광고", en = "Marketing and advertising" }',
            'label = { ko = "마케팅", en = "Ads | *promos* <b>" }',
        )
    ).policy
    markdown = render_policy(odd, Settings(), lang="en", fmt="md")
    assert r"Ads \| \*promos\* \<b\>" in markdown
    page = render_policy(odd, Settings(), lang="en", fmt="html")
    assert "<b>" not in page
    assert "Ads | *promos* &lt;b&gt;" in page


def test_bad_language_or_format_is_refused() -> None:
    """It refuses a language or format it does not know, naming the field."""
    from haechi.errors import InvalidInput

    with pytest.raises(InvalidInput, match="lang"):
        render_policy(POLICY, Settings(), lang="fr", fmt="html")
    with pytest.raises(InvalidInput, match="format"):
        render_policy(POLICY, Settings(), lang="ko", fmt="pdf")


def test_a_shorter_marketing_retention_changes_document_and_engine(
    database: Database, keys: LocalKeyProvider, clock: FakeClock, settings: Settings
) -> None:
    """It moves both the stated retention and the engine's expiry when the file says P3M."""
    person = {
        "name": "김민지",
        "contact": "010-2345-6789",
        "email": "minji@example.kr",
        "company": "한빛상사",
        "department": "구매팀",
        "title": "대리",
    }
    for text, months in ((DEMO, 6), (DEMO.replace('retention = "P6M"', 'retention = "P3M"'), 3)):
        loaded = parse_policy(text)
        document = html(loaded.policy, settings)
        stated = document.table_after(heading(document, "2."))["Marketing and advertising"][0]
        assert span(period_of(stated)) == (0, months, 0)
        engine = Engine(
            database=database.engine, policy=loaded, keys=keys, settings=settings, clock=clock
        )
        try:
            result = engine.collect(
                purpose="marketing",
                items={**person, "email": f"m{months}@example.kr"},
                consent=ConsentEvidence(granted=True, method="web-form"),
                actor=SYSTEM,
            )
        finally:
            engine.close()
        now = clock()
        expected = period_of(stated).after(now)
        assert result.expires_at == expected
        assert result.expires_at.astimezone(UTC) < datetime(now.year + 1, now.month, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("trusted", "stated"),
    [
        (["10.0.0.0/8"], "from outside our trusted networks need a second factor"),
        ([], "need a second factor (a one-time code) at every login"),
        (["0.0.0.0/0"], None),
    ],
)
def test_second_factor_is_claimed_only_where_it_is_asked(
    trusted: list[str], stated: str | None
) -> None:
    """It claims a second factor outside trusted networks, at every login, or not at all."""
    settings = Settings(auth=cheap_auth(trusted_networks=trusted))
    measures = html(settings=settings).section("Technical measures")
    if stated is None:
        assert "second factor" not in measures
    else:
        assert stated in measures


@pytest.mark.parametrize(
    "extra",
    ["sensitive = true\n", ""],
    ids=["sensitive", "plain"],
)
def test_the_log_period_stated_is_the_engines_for_special_items(
    database: Database, keys: LocalKeyProvider, clock: FakeClock, settings: Settings, extra: str
) -> None:
    """It states two years at any size once an item is sensitive, as the engine keeps it."""
    text = DEMO.replace('kind = "name"\n', f'kind = "name"\n{extra}', 1)
    loaded = parse_policy(text)
    engine = Engine(
        database=database.engine, policy=loaded, keys=keys, settings=settings, clock=clock
    )
    measures = html(loaded.policy).section("Technical measures")
    kept = re.search(r"kept for ([^,.]+?)(, or|\.)", measures)
    assert kept is not None
    assert span(period_of(kept.group(1))) == span(engine.log_retention())
    assert ("once we hold data on" in measures) is (not extra)
