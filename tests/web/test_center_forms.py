"""The privacy center's forms over TestClient, on both databases: refusals are 4xx pages.

Every refusal names the fields at fault, repeats nothing the visitor did not type into
that form, and is never a 500; a form without its CSRF token does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app
from tests.rights.support import collect

BASE = "http://127.0.0.1"


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine=engine)
    with TestClient(
        app, raise_server_exceptions=False, client=("127.0.0.1", 50000), base_url=BASE
    ) as test:
        yield test


def token_of(client: TestClient, path: str) -> str:
    """The CSRF token of the page at ``path`` (its cookie is now in the client)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def invalid_fields(html: str) -> set[str]:
    """The fields a page shows an error next to (their controls marked invalid)."""
    beside = set(re.findall(r'<p class="error" id="f-([^"]+)-error">', html))
    marked = set(re.findall(r'id="f-([^"]+)"[^>]*aria-invalid="true"', html))
    assert marked <= beside
    return beside


def test_a_form_without_its_token_is_refused_and_does_nothing(
    engine: Engine, client: TestClient, person: dict[str, str]
) -> None:
    """It answers 403 to a missing, forged or other visitor's token; no request is made."""
    collect(engine, person)
    before = len(engine.events(limit=500))
    token = token_of(client, "/privacy/requests/access")
    for sent in ({}, {"csrf_token": "x" * 43}):
        answer = client.post("/privacy/requests/access", data={"contact": person["email"], **sent})
        assert answer.status_code == 403
        assert "csrf_token" not in invalid_fields(answer.text)
        assert "out of date" in answer.text or "유효 기간" in answer.text
    stranger = TestClient(client.app, client=("127.0.0.1", 50001), base_url=BASE)
    answer = stranger.post(
        "/privacy/requests/access", data={"contact": person["email"], "csrf_token": token}
    )
    assert answer.status_code == 403
    assert len(engine.events(limit=500)) == before


def test_the_code_page_is_the_same_for_known_and_unknown_and_repeats_no_address(
    engine: Engine, client: TestClient, person: dict[str, str]
) -> None:
    """It answers 202 with the same page for a person on file and a stranger."""
    collect(engine, person)
    pages = []
    for address in (person["email"], "stranger@example.kr"):
        token = token_of(client, "/privacy/requests/access?lang=en")
        answer = client.post(
            "/privacy/requests/access?lang=en", data={"contact": address, "csrf_token": token}
        )
        assert answer.status_code == 202
        assert address not in answer.text
        receipt = re.findall(r'<code class="secret"[^>]*>([^<]*)</code>', answer.text)
        page = answer.text
        for secret in receipt:
            page = page.replace(secret, "")
        pages.append(page)
    assert pages[0] == pages[1]


def test_the_code_field_carries_its_own_attributes(client: TestClient) -> None:
    """It gives the code field a numeric keypad and six characters, as attributes."""
    token = token_of(client, "/privacy/requests/access?lang=en")
    answer = client.post(
        "/privacy/requests/access?lang=en", data={"contact": "a@example.kr", "csrf_token": token}
    )
    assert 'inputmode="numeric" maxlength="6"' in answer.text
    assert "&#34;" not in answer.text


@pytest.mark.parametrize(
    ("path", "data", "fields"),
    [
        ("/privacy/requests/access", {"contact": "no-address"}, {"contact"}),
        ("/privacy/requests/withdrawal", {"contact": "a@example.kr"}, {"purposes"}),
        ("/privacy/requests/access", {"contact": "x" * 400}, {"contact"}),
        ("/privacy/requests/access", {"contact": "a\x00b@example.kr"}, {"contact"}),
        ("/privacy/status", {"request_id": "../../etc", "status_token": "t" * 30}, {"request_id"}),
        ("/privacy/complaints", {"description": "help"}, {"items.name", "consent"}),
        (
            "/privacy/complaints/status",
            {"complaint_id": "x", "status_token": "!"},
            {"status_token"},
        ),
    ],
)
def test_bad_fields_are_named_next_to_them_without_echoing_them(
    client: TestClient, path: str, data: dict[str, str], fields: set[str]
) -> None:
    """It answers 422 and marks each bad field; a refused value is not repeated back."""
    token = token_of(client, path)
    answer = client.post(path, data={**data, "csrf_token": token})
    assert answer.status_code == 422, answer.text
    assert fields <= invalid_fields(answer.text)
    for value in data.values():
        if len(value) > 20 or "\x00" in value or "../" in value:
            assert value not in answer.text


@pytest.mark.parametrize("raw", [b"%ED%A0%80", b"%FF%FE", b"%E2%80%AE" * 200, b"%0A%0D"])
def test_undecodable_or_hostile_bytes_are_a_field_error_not_a_500(
    client: TestClient, raw: bytes
) -> None:
    """It answers a lone surrogate, invalid UTF-8, RTL marks or line breaks with 422."""
    token = token_of(client, "/privacy/requests/access")
    answer = client.post(
        "/privacy/requests/access",
        content=b"contact=" + raw + b"&csrf_token=" + token.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 422, answer.text
    assert invalid_fields(answer.text) == {"contact"}


def test_a_wrong_status_key_says_nothing_of_the_request(client: TestClient) -> None:
    """It answers a wrong request number or status key with one 404 page for both."""
    token = token_of(client, "/privacy/status")
    answer = client.post(
        "/privacy/status",
        data={"request_id": "0" * 36, "status_token": "t" * 43, "csrf_token": token},
    )
    assert answer.status_code == 404
    assert "0" * 36 in answer.text  # typed into this form: kept in its field
    assert "t" * 43 not in answer.text


def test_oversize_and_malformed_bodies_are_refused_before_any_work(client: TestClient) -> None:
    """It answers 413 past the body limit, 422 to too many fields or a JSON body; no 500."""
    token = token_of(client, "/privacy/complaints")
    huge = client.post(
        "/privacy/complaints",
        data={"description": "x" * (2 * 1024 * 1024), "csrf_token": token},
    )
    assert huge.status_code == 413
    assert huge.json()["field"] == "body"
    many = "&".join(f"f{index}=1" for index in range(100))
    answer = client.post(
        "/privacy/complaints",
        content=many.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 422
    assert "body" in answer.text or "form" in answer.text
    answer = client.post("/privacy/complaints", json={"description": "x"})
    assert answer.status_code == 422
    answer = client.post(
        "/privacy/complaints",
        content=b"\xff\xfe=\xff",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code in (403, 422)


def test_pages_carry_a_strict_csp_and_an_httponly_csrf_cookie(client: TestClient) -> None:
    """It sends default-src 'self' with no inline script, and the cookie HttpOnly, Lax."""
    answer = client.get("/privacy/center")
    csp = answer.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'")
    assert "unsafe" not in csp
    assert "<script>" not in answer.text
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert answer.headers["cache-control"] == "no-store"


def test_an_unknown_kind_or_page_is_a_404_page(client: TestClient) -> None:
    """It answers a right the policy does not offer with a page, not an error trace."""
    answer = client.get("/privacy/requests/teleport")
    assert answer.status_code == 404
    assert "<h1>" in answer.text
