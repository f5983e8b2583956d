"""``haechi audit``: seal, verify (and fail on tampering), prove, witness, prune."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from haechi import Actor, ConsentEvidence, Engine, Settings
from haechi.engine import SYSTEM
from tests.cli.test_cli import haechi


@pytest.fixture
def data(tmp_path: Path, person: dict[str, str]) -> Path:
    """An installation with some sealed-to-be activity."""
    directory = tmp_path / "data"
    assert haechi("init", str(directory)).returncode == 0
    engine = Engine.open(Settings.load(directory))
    crm = Actor(name="crm", kind="token", purposes=frozenset({"service"}))
    try:
        for index in range(5):
            who = {**person, "email": f"p{index}@example.kr", "contact": f"010-4000-{index:04d}"}
            result = engine.collect(
                purpose="service",
                items=who,
                consent=ConsentEvidence(True, "web-form"),
                actor=SYSTEM,
            )
            engine.use(actor=crm, subject_id=result.subject_id, purpose="service")
    finally:
        engine.close()
    return directory


def test_seal_verify_prove_and_consistency(data: Path) -> None:
    """It seals, verifies (exit 0 with the size), and prints proofs that verify."""
    sealed = haechi("audit", "seal", "--data", str(data))
    assert sealed.returncode == 0, sealed.stderr
    report = json.loads(haechi("audit", "verify", "--json", "--data", str(data)).stdout)
    assert report["ok"] is True
    assert report["size"] >= 10
    proof = json.loads(haechi("audit", "prove", "3", "--data", str(data)).stdout)
    assert proof["verified"] is True
    assert proof["tree_head"]["size"] == report["size"]
    size = report["size"]
    assert haechi("audit", "consistency", str(size), str(size), "--data", str(data)).returncode == 0


def test_verify_exits_1_on_tampering_and_names_the_leaf(data: Path) -> None:
    """It exits 1 and names the first bad leaf when a sealed event is changed."""
    assert haechi("audit", "seal", "--data", str(data)).returncode == 0
    with sqlite3.connect(data / "haechi.db") as raw:
        raw.execute("DROP TRIGGER audit_events_no_update")
        raw.execute("UPDATE audit_events SET actor = 'someone' WHERE id = 4")
    result = haechi("audit", "verify", "--json", "--data", str(data))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["first_bad_leaf"] == 3


def test_export_heads_for_a_witness(data: Path, tmp_path: Path) -> None:
    """It exports heads that `verify --witness` then checks the log against."""
    haechi("audit", "seal", "--data", str(data))
    witness = tmp_path / "witness.json"
    assert haechi("audit", "export-heads", str(witness), "--data", str(data)).returncode == 0
    document = json.loads(witness.read_text())
    assert document["heads"]
    assert "BEGIN PUBLIC KEY" in document["public_key"]
    checked = haechi("audit", "verify", "--witness", str(witness), "--data", str(data))
    assert checked.returncode == 0, checked.stderr
    witness.write_text("not json")
    bad = haechi("audit", "verify", "--witness", str(witness), "--data", str(data))
    assert bad.returncode == 2
    assert "export-heads" in bad.stderr


def test_prune_removes_nothing_recent(data: Path) -> None:
    """It keeps events younger than the retention."""
    haechi("audit", "seal", "--data", str(data))
    result = haechi("audit", "prune", "--data", str(data))
    assert result.returncode == 0
    assert "Removed 0 events" in result.stdout
