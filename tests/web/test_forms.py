"""Form helpers: CSRF tokens bound to a cookie or a session, bounded parsing, field checks."""

from __future__ import annotations

import secrets

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from haechi.crypto.keys import LocalKeyProvider
from haechi.errors import InvalidInput
from haechi.web.forms import MAX_FIELDS, Csrf, CsrfRefused, Fields, read_form


@pytest.fixture
def csrf() -> Csrf:
    return Csrf.from_keys(LocalKeyProvider(secrets.token_bytes(32)))


def test_a_token_is_good_for_its_binding_and_scope_only(csrf: Csrf) -> None:
    """It accepts the token of a binding, and refuses it for another binding or scope."""
    binding = secrets.token_urlsafe(32)
    token = csrf.token(binding)
    csrf.check(token, binding)
    with pytest.raises(CsrfRefused):
        csrf.check(token, secrets.token_urlsafe(32))
    with pytest.raises(CsrfRefused):
        csrf.check(token, binding, scope="session")
    csrf.check(csrf.token(binding, scope="session"), binding, scope="session")


@pytest.mark.parametrize("token", [None, "", "x" * 43, "é" * 43, "a" * 10_000, 7])
def test_a_missing_or_forged_token_is_refused(csrf: Csrf, token: object) -> None:
    """It refuses no token, a wrong one, a non-ASCII one, a huge one, a non-string."""
    with pytest.raises(CsrfRefused) as refused:
        csrf.check(token, secrets.token_urlsafe(32))
    assert refused.value.field == "csrf_token"


def test_no_binding_refuses_even_the_right_shape(csrf: Csrf) -> None:
    """It refuses a form from a browser that sent no cookie at all."""
    with pytest.raises(CsrfRefused):
        csrf.check(csrf.token("anything"), None)


def test_keys_from_two_providers_give_different_tokens() -> None:
    """It derives its key from the provider: another installation's token is refused."""
    one = Csrf.from_keys(LocalKeyProvider(secrets.token_bytes(32)))
    two = Csrf.from_keys(LocalKeyProvider(secrets.token_bytes(32)))
    with pytest.raises(CsrfRefused):
        two.check(one.token("b"), "b")


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/form")
    async def form(request: Request) -> JSONResponse:
        try:
            fields = Fields(await read_form(request))
            name = fields.text("name", max_length=10)
            note = fields.text("note", max_length=50, required=False, multiline=True)
            color = fields.choice("color", ("red", "blue"))
            fields.done()
        except InvalidInput as error:
            return JSONResponse(
                {
                    "fields": [problem.field for problem in error.faults],
                    "codes": [problem.code for problem in error.faults],
                },
                status_code=422,
            )
        return JSONResponse({"name": name, "note": note, "color": color})

    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(_app())


def test_good_fields_are_read_trimmed(client: TestClient) -> None:
    """It reads each field trimmed, a multi-line one with its line breaks."""
    answer = client.post("/form", data={"name": " Kim ", "note": "a\nb", "color": "red"})
    assert answer.json() == {"name": "Kim", "note": "a\nb", "color": "red"}


def test_every_bad_field_is_named_at_once(client: TestClient) -> None:
    """It names the long, the missing and the wrong choice together, never their values."""
    answer = client.post("/form", data={"name": "x" * 11, "color": "green"})
    assert answer.status_code == 422
    assert answer.json() == {"fields": ["name", "color"], "codes": ["TOO_LONG", "CHOICE"]}
    assert "green" not in answer.text


@pytest.mark.parametrize(
    "value",
    ["a\x00b", "a\x1bb", "a\x9bb", "two\nlines", "\u202e" + "x" * 9, "a\u2066b\u2069", "\u200fx"],
)
def test_control_characters_and_line_breaks_are_refused_in_one_line_fields(
    client: TestClient, value: str
) -> None:
    """It refuses NUL, C0/C1 controls, bidi overrides and isolates, and line breaks.

    A right-to-left mark (U+200F) is text: right-to-left writing needs it, and it
    reorders nothing beyond its neighbours.
    """
    answer = client.post("/form", data={"name": value, "color": "red"})
    if value.startswith("\u200f"):
        assert answer.status_code == 200
    else:
        assert answer.json()["fields"] == ["name"]


def test_a_repeated_field_is_refused(client: TestClient) -> None:
    """It refuses a field sent twice rather than picking one."""
    answer = client.post(
        "/form",
        content=b"name=a&name=b&color=red",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.json()["fields"] == ["name"]


def test_too_many_fields_or_files_or_no_form_are_refused(client: TestClient) -> None:
    """It refuses more than MAX_FIELDS fields, a file where none is taken, and JSON."""
    many = "&".join(f"f{index}=1" for index in range(MAX_FIELDS + 1)).encode()
    answer = client.post(
        "/form", content=many, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert answer.json() == {"fields": ["body"], "codes": ["MALFORMED_FORM"]}
    answer = client.post("/form", files={"name": ("a.txt", b"x")}, data={"color": "red"})
    assert answer.json() == {"fields": ["body"], "codes": ["MALFORMED_FORM"]}
    answer = client.post("/form", json={"name": "a"})
    assert answer.json() == {"fields": ["body"], "codes": ["FORM_EXPECTED"]}
