"""Console pages over the engine: acting on a request, a subject's data, filters, complaints."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.engine import SYSTEM
from haechi.subjects.service import ConsentEvidence
from tests.console.support import console, csrf_of, login_as
from tests.rights.support import collect

__all__ = ["console"]


def test_staff_verify_start_and_answer_a_request_from_its_page(
    engine: Engine, console: TestClient, person: dict[str, str]
) -> None:
    """It walks a letter's access request through verify, start and complete, each audited."""
    collect(engine, person)
    entered = engine.enter_request(
        kind="access", channel="document", email=person["email"], actor=SYSTEM
    )
    login_as(console, engine, "officer", "privacy_officer")
    queue = console.get("/console/requests")
    assert queue.status_code == 200
    assert entered.id[:8] in queue.text
    page = console.get(f"/console/requests/{entered.id}")
    token = csrf_of(page.text)
    for step, data in (
        ("verify", {"method": "id_document"}),
        ("start", {}),
        ("complete", {"delivery": "post"}),
    ):
        response = console.post(
            f"/console/requests/{entered.id}/{step}", data={"csrf_token": token, **data}
        )
        assert response.status_code == 303, step
    assert engine.request(entered.id, actor=SYSTEM).state == "completed"
    shown = console.get(f"/console/requests/{entered.id}")
    assert 'id="request-state">completed<' in shown.text
    steps = [step.step for step in engine.request(entered.id, actor=SYSTEM).history]
    assert {"verify", "start", "complete"} <= set(steps)


def test_a_handler_is_refused_a_request_of_a_purpose_it_is_not_granted(
    engine: Engine, console: TestClient, person: dict[str, str]
) -> None:
    """It answers 403 with the engine's reason, and the refusal is in the request's history."""
    collect(engine, person)
    entered = engine.enter_request(
        kind="access", channel="document", email=person["email"], actor=SYSTEM
    )
    login_as(console, engine, "hana", "handler", "marketing")
    response = console.get(f"/console/requests/{entered.id}")
    assert response.status_code == 403
    assert 'data-error="NO_GRANT"' in response.text
    history = engine.request(entered.id, actor=SYSTEM).history
    assert any(step.outcome == "denied" and step.actor == "hana" for step in history)


def test_a_subject_shows_states_until_a_purpose_is_chosen_and_the_use_is_logged(
    engine: Engine, console: TestClient, person: dict[str, str]
) -> None:
    """It finds by email without the address in any URL, lists states, then reads by purpose."""
    subject_id = collect(engine, person)
    login_as(console, engine, "officer", "privacy_officer")
    token = csrf_of(console.get("/console/subjects").text)
    found = console.post(
        "/console/subjects/search",
        data={"csrf_token": token, "kind": "email", "value": person["email"]},
    )
    assert found.status_code == 200
    assert subject_id in found.text
    assert person["name"] not in found.text
    assert person["email"] not in found.text.replace(f'value="{person["email"]}"', "")
    shown = console.post(
        f"/console/subjects/{subject_id}/use",
        data={"csrf_token": token, "purpose": "service", "reason": "a call back"},
    )
    assert shown.status_code == 200
    assert person["name"] in shown.text
    events = engine.events(subject_id=subject_id, limit=10)
    assert any(e.action == "view" and e.purpose == "service" for e in events)
    assert any(e.action == "lookup" for e in engine.events(limit=20))


def test_a_filter_form_sent_with_empty_fields_lists_everything(
    engine: Engine, console: TestClient
) -> None:
    """It reads a field left empty by a filter form as no filter, not as a bad value."""
    login_as(console, engine, "officer", "privacy_officer")
    for path in (
        "/console/requests?state=&kind=&due_before=",
        "/console/complaints?state=",
        "/console/log?actor=&purpose=&subject=&since=&until=&outcome=",
    ):
        assert console.get(path).status_code == 200, path


def test_a_nul_in_a_console_url_is_refused_before_the_page(
    engine: Engine, console: TestClient
) -> None:
    """It refuses a NUL anywhere in the URL with 400 naming the URL, as the API does."""
    login_as(console, engine, "officer", "privacy_officer")
    response = console.get("/console/log?actor=%00")
    assert response.status_code == 400
    assert response.json()["field"] == "url"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/console/log?since=2026-13-40", "since"),
        ("/console/log?outcome=maybe", "outcome"),
        ("/console/log?before=0", "before"),
        ("/console/log?limit=100000", "limit"),
        ("/console/log?actor=" + "a" * 101, "actor"),
        ("/console/log?actor=a%E2%80%AEb", "actor"),
        ("/console/log?subject=" + "x" * 5000, "subject"),
        ("/console/log?purpose=%ED%A0%80", "purpose"),
        ("/console/log?since=2026-05-02&until=2026-05-01", "until"),
        ("/console/requests?state=lost", "state"),
        ("/console/requests?kind=" + "k" * 10_000, "kind"),
        ("/console/requests?page=0", "page"),
        ("/console/requests?due_before=yesterday", "due_before"),
        ("/console/complaints?state=open", "state"),
        ("/console/log/review?month=2026-1", "month"),
        ("/console/log/review?month=9999-99", "month"),
        ("/console/policy?old=0&new=1", "old"),
        ("/console/staff?username=%F0%9F%98%80", "username"),
    ],
)
def test_bad_page_parameters_are_refused_with_the_field_named(
    engine: Engine, console: TestClient, path: str, field: str
) -> None:
    """It refuses bad query parameters on every page with 4xx and the field, never a 500."""
    login_as(console, engine, "officer", "privacy_officer")
    response = console.get(path)
    assert 400 <= response.status_code < 500
    assert f"<strong>{field}</strong>" in response.text


def test_filters_narrow_the_log_and_pages_go_back_in_time(
    engine: Engine, console: TestClient, person: dict[str, str]
) -> None:
    """It lists only what the filters ask, a page at a time, and reading the log is an event."""
    subject_id = collect(engine, person)
    for _ in range(3):
        engine.use(actor=SYSTEM, subject_id=subject_id, purpose="service")
    login_as(console, engine, "auditor1", "auditor")
    page = console.get(f"/console/log?subject={subject_id}&outcome=allowed&limit=2")
    assert page.status_code == 200
    assert page.text.count(f">{subject_id[:8]}<") == 2
    assert 'rel="next"' in page.text
    assert any(e.action == "log_read" and e.subject_id == subject_id for e in engine.events())


def test_a_complaint_is_assigned_answered_and_closed_from_its_page(
    engine: Engine, console: TestClient, person: dict[str, str]
) -> None:
    """It handles a complaint from intake to its result, delivered by post."""
    from haechi.access.decision import Actor

    public = Actor(name="public", kind="public", purposes=frozenset({"complaints"}))
    intake = engine.submit_complaint(
        items=person,
        description="광고 문자를 계속 받습니다.",
        consent=ConsentEvidence(granted=True, method="web-form"),
        actor=public,
    )
    login_as(console, engine, "officer", "privacy_officer")
    token = csrf_of(console.get(f"/console/complaints/{intake.complaint_id}").text)
    base = f"/console/complaints/{intake.complaint_id}"
    for step, data in (
        ("assign", {"assignee": "officer"}),
        ("messages", {"text": "확인 중입니다."}),
        ("close", {"result": "수신 거부 처리했습니다.", "delivery": "post"}),
    ):
        assert console.post(f"{base}/{step}", data={"csrf_token": token, **data}).status_code == 303
    page = console.get(base)
    assert 'id="complaint-state">closed<' in page.text
    assert "수신 거부 처리했습니다." in page.text


def test_reading_destructions_is_an_event_and_unknown_batches_are_not_found(
    engine: Engine, console: TestClient
) -> None:
    """It records who read the destruction records, and answers 404 for a batch not kept."""
    login_as(console, engine, "auditor1", "auditor")
    assert console.get("/console/destructions").status_code == 200
    assert console.get("/console/destructions/no-such-batch").status_code == 404
    actions = [(e.actor, e.action) for e in engine.events(limit=10)]
    assert ("auditor1", "destruction_list") in actions
