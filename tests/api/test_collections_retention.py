"""The HTTP API on retention: purpose accomplished, and what a destroyed collection shows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from haechi import Engine
from haechi.api import create_app
from tests.conftest import FakeClock


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=engine), raise_server_exceptions=False) as test_client:
        yield test_client


def test_accomplished_then_destroyed_shows_state_and_certificate_only(
    client: TestClient, engine: Engine, clock: FakeClock, person: dict[str, str]
) -> None:
    """It marks the purpose accomplished (204): use stops and the collection shows it due.

    Once swept, it shows its state and certificate id only.
    """
    _, secret = engine.create_token(name="crm", purposes=["service"])
    auth = {"Authorization": f"Bearer {secret}"}
    body = {"purpose": "service", "items": person, "consent": {"granted": True, "method": "web"}}
    created = client.post("/api/v1/collections", json=body, headers=auth).json()
    collection_id = created["collection_id"]
    done = client.post(f"/api/v1/collections/{collection_id}/accomplished", headers=auth)
    assert done.status_code == 204, done.text
    info = client.get(f"/api/v1/collections/{collection_id}", headers=auth).json()
    # The state says where the data is (still the main store); the dates say it is due.
    assert info["state"] == "active"
    assert info["accomplished_at"] == info["due_at"] == clock.now.isoformat().replace("+00:00", "Z")
    read = client.get(
        f"/api/v1/subjects/{created['subject_id']}/items?purpose=service", headers=auth
    )
    assert (read.status_code, read.json()["code"]) == (403, "ACCOMPLISHED")
    clock.advance(seconds=1)
    engine.sweep()
    shown = client.get(f"/api/v1/collections/{collection_id}", headers=auth)
    assert shown.status_code == 200
    certificate_id = engine.certificate_for(collection_id)
    assert certificate_id is not None
    assert shown.json() == {
        "id": collection_id,
        "state": "destroyed",
        "certificate_id": certificate_id,
    }
    again = client.post(f"/api/v1/collections/{collection_id}/accomplished", headers=auth)
    assert again.status_code == 409
    missing = client.post("/api/v1/collections/nope/accomplished", headers=auth)
    assert missing.status_code == 404
