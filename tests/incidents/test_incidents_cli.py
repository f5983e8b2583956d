"""``haechi incidents``: from open to close; every error exits 2 with one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from haechi import Engine
from haechi.access.decision import Actor
from haechi.cli.common import load_settings
from haechi.engine import SYSTEM
from haechi.policy.loader import load_policy
from haechi.subjects.service import ConsentEvidence
from tests.cli.test_cli import haechi
from tests.cli.test_operator_errors import refused
from tests.conftest import PERSON
from tests.rights.support import smtp_server, text_of
from tests.serving import free_port


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory where kim read two people's data an hour ago."""
    data = tmp_path_factory.mktemp("incidents") / "data"
    assert haechi("init", str(data)).returncode == 0
    _kim_reads_two(data, email="p{n}@example.kr", first_contact=6000)
    return data


def _kim_reads_two(data: Path, *, email: str, first_contact: int) -> None:
    """Two people on file in ``data`` (``email`` formatted with n), each read by kim."""
    engine = Engine.open(load_settings(data))
    kim = Actor(name="kim", kind="staff", purposes=frozenset({"service"}), role="handler")
    try:
        for n in range(2):
            items = dict(PERSON, email=email.format(n=n), contact=f"010-2345-{first_contact + n}")
            subject = engine.collect(
                purpose="service",
                items=items,
                consent=ConsentEvidence(granted=True, method="web-form"),
                actor=SYSTEM,
            ).subject_id
            engine.use(actor=kim, subject_id=subject, purpose="service", items=["name"])
        engine.seal_all()
    finally:
        engine.close()


def _open_over_kims_reads(data: Path) -> dict[str, Any]:
    """``haechi incidents open`` over the last two hours of kim's reads: its JSON."""
    aware, start, end = _times()
    opened = haechi(
        "incidents", "open", "--title", "kim's laptop", "--aware-at", aware, "--actor", "kim",
        "--from", start, "--to", end, "--json", "--data", str(data),
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    incident: dict[str, Any] = json.loads(opened.stdout)
    return incident


def _times() -> tuple[str, str, str]:
    now = datetime.now(UTC)
    return (
        (now - timedelta(minutes=1)).isoformat(),
        (now - timedelta(hours=2)).isoformat(),
        now.isoformat(),
    )


def test_open_show_report_prove_close(data: Path, tmp_path: Path) -> None:
    """It opens an incident over kim's reads and carries it through to closing."""
    incident = _open_over_kims_reads(data)
    assert incident["affected_count"] == 2
    assert incident["by_purpose"] == {"service": 2}
    assert incident["by_item"] == {"name": 2}
    assert incident["report_to_regulator"] is False
    assert incident["deadline"]
    listed = json.loads(haechi("incidents", "list", "--json", "--data", str(data)).stdout)
    assert [one["id"] for one in listed] == [incident["id"]]
    shown = haechi("incidents", "show", incident["id"], "--subjects", "--json", "--data", str(data))
    assert len(json.loads(shown.stdout)["subjects"]) == 2
    contained = haechi(
        "incidents", "contain", incident["id"], "--kind", "keys_rotated", "--note", "new key",
        "--data", str(data),
    )  # fmt: skip
    assert contained.returncode == 0, contained.stderr
    page = tmp_path / "report.html"
    made = haechi("incidents", "report", incident["id"], "--out", str(page), "--data", str(data))
    assert made.returncode == 0, made.stderr
    assert "개인정보 유출 신고" in page.read_text()
    fields = json.loads(
        haechi("incidents", "report", incident["id"], "--json", "--data", str(data)).stdout
    )
    assert {"items", "time", "circumstances", "measures", "contact"} <= set(fields)
    assert fields["measures"][0]["kind"] == "keys_rotated"
    proofs = json.loads(haechi("incidents", "prove", incident["id"], "--data", str(data)).stdout)
    assert len(proofs["proofs"]) == 2
    assert all(proof["verified"] for proof in proofs["proofs"])
    notify = refused("incidents", "notify", incident["id"], "--data", str(data))
    assert "mail is not configured" in notify
    assert haechi("incidents", "close", incident["id"], "--data", str(data)).returncode == 0
    assert "closed" in refused("incidents", "close", incident["id"], "--data", str(data))


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"--aware-at": "2026-03-02T09:00"}, "offset"),
        ({"--ip": "0.0.0.0/0"}, "wider"),
        ({"--title": "x" * 201}, "title"),
        ({"--from": "2030-01-01T00:00:00+00:00"}, "after"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(data: Path, change: dict[str, str], said: str) -> None:
    """Each bad input is refused before any work, in one line naming it."""
    aware, start, end = _times()
    options = {"--title": "t", "--aware-at": aware, "--from": start, "--to": end, "--actor": "kim"}
    options.update(change)
    args = [part for pair in options.items() for part in pair]
    assert said in refused("incidents", "open", *args, "--data", str(data))


def test_unknown_incident_and_kind(data: Path) -> None:
    """An unknown id or containment kind is refused in one line."""
    assert "no such incident" in refused("incidents", "show", "nope", "--data", str(data))
    missing = "00000000-0000-4000-8000-000000000000"
    assert "no such incident" in refused("incidents", "report", missing, "--data", str(data))
    assert "kind" in refused(
        "incidents", "contain", missing, "--kind", "prayer", "--data", str(data)
    )


def test_notify_mails_every_affected_person_through_a_real_smtp_server(tmp_path: Path) -> None:
    """``incidents notify`` mails each affected address once; run again, it sends nothing."""
    data = tmp_path / "data"
    assert haechi("init", str(data)).returncode == 0
    port = free_port()
    with (data / "haechi.toml").open("a", encoding="utf-8") as file:
        file.write(f'\n[mail]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n')
    _kim_reads_two(data, email="mailed{n}@example.kr", first_contact=6100)
    privacy_officer = load_policy(load_settings(data).policy_path).policy.privacy_officer.email
    incident_id = _open_over_kims_reads(data)["id"]
    with smtp_server(port) as inbox:
        first = haechi("incidents", "notify", incident_id, "--json", "--data", str(data))
        again = haechi("incidents", "notify", incident_id, "--json", "--data", str(data))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["sent"] == 2
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["sent"] == 0
    addresses = sorted(str(message["To"]) for message in inbox.messages)
    assert addresses == ["mailed0@example.kr", "mailed1@example.kr"]
    for message in inbox.messages:
        text = text_of(message)
        # The officer's contact is in it; none of the person's values is.
        assert privacy_officer in text
        assert not [value for value in PERSON.values() if value in text]
