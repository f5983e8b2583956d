"""``haechi complaints``: list, show, assign, reply, verify and close from the terminal."""

from __future__ import annotations

import json
from pathlib import Path

from haechi import Actor, ConsentEvidence, Engine, Settings
from haechi.engine import SYSTEM
from tests.cli.test_cli import haechi
from tests.conftest import PERSON, cheap_auth

PETITION = "The invoice charged twice: Canary-Cli-Petition-1618"


def test_a_complaint_is_handled_from_the_cli(tmp_path: Path) -> None:
    """It lists the queue, shows the thread, replies and closes, as JSON and never in stderr."""
    data = tmp_path / "data"
    assert haechi("init", str(data)).returncode == 0
    engine = Engine.open(Settings.load(data).model_copy(update={"auth": cheap_auth()}))
    try:
        engine.add_staff(username="lee", role="handler", purposes=["complaints"], actor=SYSTEM)
        public = Actor(name="public", kind="public", purposes=frozenset({"complaints"}))
        complaint_id = engine.submit_complaint(
            items=PERSON,
            description=PETITION,
            consent=ConsentEvidence(granted=True, method="web-form"),
            actor=public,
        ).complaint_id
    finally:
        engine.close()
    where = ["--data", str(data)]
    listed = haechi("complaints", "list", "--json", *where)
    assert listed.returncode == 0, listed.stderr
    assert [c["id"] for c in json.loads(listed.stdout)] == [complaint_id]
    assert PETITION not in listed.stdout
    for step in (
        ["assign", complaint_id, "--to", "lee"],
        ["reply", complaint_id, "--text", "Checking the invoice now.", "--json"],
        ["verify", complaint_id, "--method", "phone"],
    ):
        done = haechi("complaints", *step, *where)
        assert done.returncode == 0, done.stderr
    closed = haechi(
        "complaints", "close", complaint_id, "--result", "Refunded the second charge.",
        "--delivery", "post", "--json", *where,
    )  # fmt: skip
    assert closed.returncode == 0, closed.stderr
    assert json.loads(closed.stdout)["state"] == "closed"
    shown = haechi("complaints", "show", complaint_id, "--json", *where)
    messages = json.loads(shown.stdout)["messages"]
    assert [(m["kind"], m["text"]) for m in messages] == [
        ("petition", PETITION),
        ("reply", "Checking the invoice now."),
        ("result", "Refunded the second charge."),
    ]
    refused = haechi("complaints", "assign", complaint_id, "--to", "lee", *where)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
