"""``haechi requests``: the queue with due dates and each step, end to end."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from haechi import ConsentEvidence, Engine, Settings
from haechi.engine import SYSTEM
from tests.cli.test_cli import haechi, installation  # noqa: F401 (a fixture)


def entered(installation: list[str], person: dict[str, str], kind: str) -> str:  # noqa: F811
    """A person on file and a request entered for them from a letter."""
    engine = Engine.open(Settings.load(Path(installation[1])))
    try:
        engine.collect(
            purpose="service",
            items=person,
            consent=ConsentEvidence(granted=True, method="paper"),
            actor=SYSTEM,
        )
        info = engine.enter_request(
            kind=kind,
            channel="document",
            email=person["email"],
            attachments=[("received", "application/pdf", b"letter")],
            actor=SYSTEM,
        )
    finally:
        engine.close()
    return info.id


def test_list_verify_postpone_complete_and_show_history(
    installation: list[str],  # noqa: F811
    person: dict[str, str],
) -> None:
    """It lists due dates, records each step, and shows the request's own history."""
    request_id = entered(installation, person, "access")
    listed = haechi("requests", "list", "--json", *installation)
    assert listed.returncode == 0, listed.stderr
    [shown] = json.loads(listed.stdout)
    assert shown["id"] == request_id
    received = datetime.fromisoformat(shown["received_at"])
    assert datetime.fromisoformat(shown["due_at"]) == received + timedelta(days=10)
    table = haechi("requests", "list", *installation)
    assert f"{received + timedelta(days=10):%Y-%m-%d}" in table.stdout
    steps = [
        ("verify", request_id, "--method", "id_document"),
        (
            "postpone",
            request_id,
            "--reason",
            "LARGE_VOLUME",
            "--due",
            (received + timedelta(days=15)).isoformat(),
        ),
        ("complete", request_id, "--delivery", "post"),
    ]
    for step in steps:
        result = haechi("requests", *step, "--by", "officer-kim", *installation)
        assert result.returncode == 0, result.stderr
    show = haechi("requests", "show", request_id, "--json", *installation)
    history = json.loads(show.stdout)
    assert history["state"] == "completed"
    assert history["delivery"] == "post"
    steps_taken = [step["step"] for step in history["history"] if step["step"] != "view"]
    assert steps_taken == ["receive", "verify", "postpone", "complete"]
    assert any(step["actor"] == "officer-kim" for step in history["history"])


def test_refuse_needs_a_known_reason(
    installation: list[str],  # noqa: F811
    person: dict[str, str],
) -> None:
    """It refuses an unknown reason with exit 2, and records a known one."""
    request_id = entered(installation, person, "deletion")
    bad = haechi("requests", "refuse", request_id, "--reason", "BECAUSE", *installation)
    assert bad.returncode == 2
    assert "BECAUSE" not in bad.stderr
    good = haechi(
        "requests", "refuse", request_id, "--reason", "LAW_REQUIRES", "--json", *installation
    )
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["refusal_reason"] == "LAW_REQUIRES"
