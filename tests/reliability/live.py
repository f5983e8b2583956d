"""A real ``haechi serve`` with a service token, a staff session and one person on file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from haechi import Engine, Settings
from haechi.engine import SYSTEM
from haechi.subjects.service import ConsentEvidence
from tests.conftest import PERSON
from tests.serving import Server, haechi, start_server, stop_server

OFFICER = "reliab-officer"
OFFICER_PASSWORD = "Reliable-Custody-4821"
PURPOSES = ["service", "marketing", "complaints"]


@dataclass
class Live:
    """The server, its data directory, the two credentials and what was put on file."""

    data_dir: Path
    server: Server
    token: str
    session: str
    subject_id: str
    collection_id: str
    personal_values: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def headers_for(self, path: str) -> dict[str, str]:
        """The token for the service's endpoints, the officer's session for the rest."""
        service = path.startswith(("/api/v1/collections", "/api/v1/subjects"))
        return {"Authorization": f"Bearer {self.token if service else self.session}"}


def collection_body(items: dict[str, str], purpose: str = "service") -> dict[str, object]:
    """The body of ``POST /api/v1/collections`` for ``items``, consented on a web form."""
    return {
        "purpose": purpose,
        "items": items,
        "consent": {"granted": True, "method": "web-form"},
    }


def prepare(
    data_dir: Path, *, settings: str = "", init_args: tuple[str, ...] = ()
) -> dict[str, str]:
    """Initialise ``data_dir``; make a token, an officer session and one collection."""
    initialised = haechi("init", str(data_dir), *init_args)
    assert initialised.returncode == 0, initialised.stderr
    if settings:
        with (data_dir / "haechi.toml").open("a", encoding="utf-8") as file:
            file.write("\n" + settings)
    engine = Engine.open(Settings.load(data_dir))
    try:
        _, token = engine.create_token(name="reliab", purposes=PURPOSES)
        credentials = engine.add_staff(username=OFFICER, role="privacy_officer", actor=SYSTEM)
        first = engine.login(username=OFFICER, password=credentials.password, source_ip="127.0.0.1")
        assert first.secret is not None
        engine.change_password(
            actor=engine.authenticate(first.secret, password_change=True),
            current_password=credentials.password,
            new_password=OFFICER_PASSWORD,
        )
        session = engine.login(username=OFFICER, password=OFFICER_PASSWORD, source_ip="127.0.0.1")
        assert session.secret is not None
        collected = engine.collect(
            purpose="service",
            items=PERSON,
            consent=ConsentEvidence(granted=True, method="web-form"),
            actor=engine.authenticate(token),
        )
    finally:
        engine.close()
    return {
        "token": token,
        "session": session.secret,
        "subject_id": collected.subject_id,
        "collection_id": collected.collection_id,
    }


@contextmanager
def live_server(
    data_dir: Path, *, settings: str = "", init_args: tuple[str, ...] = (), **env: str
) -> Iterator[Live]:
    """A prepared data directory served by a real ``haechi serve``."""
    seeded = prepare(data_dir, settings=settings, init_args=init_args)
    server = start_server(data_dir, **env)
    try:
        yield Live(
            data_dir=data_dir, server=server, personal_values=list(PERSON.values()), **seeded
        )
    finally:
        stop_server(server)
