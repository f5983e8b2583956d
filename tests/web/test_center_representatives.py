"""Representatives' requests and opt-out links over HTTP and the CLI, on both databases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from haechi import Engine, Settings
from haechi.engine import SYSTEM
from haechi.errors import Conflict
from tests.cli.test_cli import haechi, installation
from tests.rights.support import bearer, collect
from tests.web.test_center_forms import client, invalid_fields, token_of

__all__ = ["client", "installation"]

PATH = "/privacy/requests/representative"
PDF = ("poa.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")


def _fields(token: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "kind": "access",
        "requester": "delegate",
        "contact": "grandma.yoon@example.kr",
        "representative.name": "윤하준",
        "reply_to": "hajun.yoon@example.kr",
        **changes,
    }


def test_a_delegates_request_is_sealed_with_its_proof_and_verified_by_staff_only(
    engine: Engine, client: TestClient, person: dict[str, str]
) -> None:
    """It stores the proof sealed; the code step refuses it, staff verify it."""
    collect(engine, person)
    answer = client.post(
        PATH,
        data=_fields(token_of(client, PATH), contact=person["email"]),
        files={"proof": PDF},
    )
    assert answer.status_code == 202, answer.text
    assert person["email"] not in answer.text
    request_id, status_token = re.findall(r'<code class="secret"[^>]*>([^<]*)</code>', answer.text)
    shown = engine.request(request_id, actor=SYSTEM)
    assert (shown.requester, shown.state) == ("delegate", "received")
    with pytest.raises(Conflict) as refused:
        engine.verify_request_code(
            request_id, status_token=status_token, code="123456", source_ip=None
        )
    assert refused.value.code == "STAFF_VERIFIES"
    assert engine.verify_request(request_id, method="id_document", actor=SYSTEM).state == "verified"


def test_a_proof_of_the_wrong_type_size_or_missing_is_named(client: TestClient) -> None:
    """It refuses a text file, an empty file and no file, naming the proof field."""
    for files in (
        {"proof": ("poa.txt", b"hello", "text/plain")},
        {"proof": ("poa.pdf", b"", "application/pdf")},
        {},
    ):
        answer = client.post(PATH, data=_fields(token_of(client, PATH)), files=files or None)
        assert answer.status_code == 422, answer.text
        assert "proof" in invalid_fields(answer.text)
    answer = client.post(
        PATH, data=_fields(token_of(client, PATH), requester="subject"), files={"proof": PDF}
    )
    assert answer.status_code == 422
    assert "requester" in invalid_fields(answer.text)


def test_the_proof_field_names_the_types_it_takes(client: TestClient) -> None:
    """It tells the file picker the proof's types, as an attribute."""
    page = client.get(PATH).text
    assert 'accept="application/pdf,image/png,image/jpeg"' in page
    assert "&#34;" not in page


def test_a_body_past_the_limit_is_refused_unread(client: TestClient) -> None:
    """It answers 413 to a proof larger than the server takes."""
    big = ("poa.pdf", b"%PDF" + b"0" * (2 * 1024 * 1024), "application/pdf")
    answer = client.post(PATH, data=_fields(token_of(client, PATH)), files={"proof": big})
    assert answer.status_code == 413


def test_the_api_mints_a_link_only_for_a_granted_token(
    engine: Engine, client: TestClient, person: dict[str, str]
) -> None:
    """It answers 201 with the path and RFC 8058 header to a marketing token, 403 to another."""
    subject_id = collect(engine, person, "marketing")
    _, marketing = engine.create_token(name="newsletter", purposes=["marketing"])
    _, service = engine.create_token(name="shop", purposes=["service"])
    body = {"subject_id": subject_id, "purpose": "marketing"}
    minted = client.post("/api/v1/optout-links", json=body, headers=bearer(marketing))
    assert minted.status_code == 201, minted.text
    assert minted.json()["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    path = minted.json()["path"]
    assert subject_id not in path
    refused = client.post("/api/v1/optout-links", json=body, headers=bearer(service))
    assert refused.status_code == 403
    assert client.get(path).status_code == 200
    engine.use(actor=SYSTEM, subject_id=subject_id, purpose="marketing", items=["name"])
    one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    bad = client.post(path, data={"List-Unsubscribe": "One-Click", "more": "x"})
    assert bad.status_code == 403  # anything else is a page's form: it needs its token
    forged = client.post("/privacy/optout/" + "A" * 100, data={"more": "x"})
    assert forged.status_code == 403
    assert "<h1>" in forged.text


def test_the_cli_prints_the_link_and_its_headers(
    installation: list[str],
    person: dict[str, str],
) -> None:
    """It prints the URL under --site and the List-Unsubscribe headers; bad input is exit 2."""
    engine = Engine.open(Settings.load(Path(installation[1])))
    try:
        subject_id = collect(engine, person, "marketing")
    finally:
        engine.close()
    result = haechi(
        "optout",
        "link",
        subject_id,
        "--purpose",
        "marketing",
        "--site",
        "https://demo.example",
        *installation,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("https://demo.example/privacy/optout/")
    assert lines[1] == f"List-Unsubscribe: <{lines[0]}>"
    assert lines[2] == "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    refused = haechi("optout", "link", subject_id, "--purpose", "nothing", *installation)
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
