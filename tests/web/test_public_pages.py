"""The public privacy pages, served with no login: in force, history, each version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app
from haechi.policy import LoadedPolicy, demo_policy_text, parse_policy
from haechi.web import render_policy
from haechi.web.public import preferred_language
from tests.conftest import FakeClock
from tests.policy.versions_helpers import OFFICER, variant
from tests.web.reading import read_html


def publish_rendered(engine: Engine, loaded: LoadedPolicy, *, days: float | None = None) -> int:
    """Publish with the documents the CLI would store."""
    documents = {
        lang: render_policy(loaded.policy, engine.settings, lang=lang, fmt="html")
        for lang in ("ko", "en")
    }
    effective = None if days is None else engine.clock() + timedelta(days=days)
    version = engine.publish_policy(
        loaded, effective_at=effective, documents=documents, actor=OFFICER
    )
    return version.n


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=engine), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_policy_in_force_is_a_whole_page_in_the_language_asked(
    engine: Engine, client: TestClient
) -> None:
    """It serves version 1 in Korean by default, in English on ?lang=en, with a switch link."""
    publish_rendered(engine, parse_policy(demo_policy_text()))
    korean = client.get("/privacy")
    assert korean.status_code == 200
    page = read_html(korean.text)
    assert page.lang == "ko"
    assert [level for level, _ in page.headings].count(1) == 1
    assert page.assets == []
    assert "/privacy?lang=en" in page.links
    english = read_html(client.get("/privacy", params={"lang": "en"}).text)
    assert english.lang == "en"
    assert english.headings[0] == (1, "Privacy policy of DemoSoft Inc.")
    assert "/privacy?lang=ko" in english.links


def test_accept_language_chooses_when_no_lang_is_given() -> None:
    """It takes the highest-weighted of ko and en from the header, Korean without one."""
    assert preferred_language("en-US,en;q=0.9,ko;q=0.8") == "en"
    assert preferred_language("fr-FR, ko;q=0.5, en;q=0.4") == "ko"
    assert preferred_language(None) == "ko"
    assert preferred_language("de, fr;q=x") == "ko"
    assert preferred_language("en;q=0.2, ko;q=0.9") == "ko"


def test_accept_language_reaches_the_page(engine: Engine, client: TestClient) -> None:
    """It answers an English browser in English."""
    publish_rendered(engine, parse_policy(demo_policy_text()))
    page = client.get("/privacy", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert read_html(page.text).lang == "en"


def test_a_notice_period_shows_a_banner_until_the_effective_date(
    engine: Engine, client: TestClient, clock: FakeClock
) -> None:
    """It names the upcoming version and its date during the notice period, then serves it."""
    publish_rendered(engine, parse_policy(demo_policy_text()))
    publish_rendered(engine, variant("v2", retention="P3M"), days=8)
    page = read_html(client.get("/privacy", params={"lang": "en"}).text)
    assert "Version 2 takes effect on 2026-03-10 18:00 (KST)." in page.text
    assert "/privacy/versions/2?lang=en" in page.links
    assert "advertising6 months" in page.section("2. How long we keep it")
    clock.advance(days=8)
    after = read_html(client.get("/privacy", params={"lang": "en"}).text)
    assert "takes effect on" not in after.text
    assert "advertising3 months" in after.section("2. How long we keep it")


def test_the_history_lists_every_version_and_each_is_served_as_published(
    engine: Engine, client: TestClient
) -> None:
    """It lists versions with dates and serves /privacy/versions/{n}; beyond them, 404."""
    publish_rendered(engine, parse_policy(demo_policy_text()))
    publish_rendered(engine, variant("v2", retention="P3M"), days=8)
    history = read_html(client.get("/privacy/versions", params={"lang": "en"}).text)
    assert [level for level, _ in history.headings] == [1]
    [table] = history.tables
    assert [row[0].text for row in table[1:]] == ["1", "2"]
    assert [row[4].text for row in table[1:]] == ["In force", "Upcoming"]
    one = client.get("/privacy/versions/1", params={"lang": "ko"})
    assert one.status_code == 200
    assert read_html(one.text).lang == "ko"
    assert client.get("/privacy/versions/3").status_code == 404
    assert client.get("/privacy/versions/0").status_code == 422
    assert client.get("/privacy/versions/99999999999").status_code == 422
    assert client.get("/privacy/versions/x").status_code == 422


def test_only_ko_and_en_are_served(engine: Engine, client: TestClient) -> None:
    """It refuses another language with a 422 naming the parameter, never echoing it."""
    refused = client.get("/privacy", params={"lang": "fr<script>"})
    assert refused.status_code == 422
    assert "<script>" not in refused.text


def test_pages_allow_nothing_but_themselves(engine: Engine, client: TestClient) -> None:
    """It sends a CSP of default-src 'self' whose style hashes match the page's own styles."""
    response = client.get("/privacy")  # nothing published yet: the file, rendered now
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert policy.startswith("default-src 'self'")
    assert "frame-ancestors 'none'" in policy
    assert policy.count("'sha256-") == 1
    assert response.headers["x-content-type-options"] == "nosniff"
    history = client.get("/privacy/versions")
    assert "아직 공고된 버전이 없습니다." in read_html(history.text).text
