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
    """It marks the purpose accomplished (204); once swept it shows state and certificate id."""
    _, secret = engine.create_token(name="crm", purposes=["service"])
    auth = {"Authorization": f"Bearer {secret}"}
    body = {"purpose": "service", "items": person, "consent": {"granted": True, "method": "web"}}
    collection_id = client.post("/api/v1/collections", json=body, headers=auth).json()[
        "collection_id"
    ]
    done = client.post(f"/api/v1/collections/{collection_id}/accomplished", headers=auth)
    assert done.status_code == 204, done.text
    assert client.get(f"/api/v1/collections/{collection_id}", headers=auth).json()["state"] == (
        "active"
    )
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
