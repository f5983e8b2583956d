"""Every HTTP route × every kind of caller, read from the application's own route table.

:data:`RULES` says who may call each route: anyone (the public API and the public site),
service tokens (with or without the purpose of what they touch), and which staff roles.
A route without a rule fails here, and so does a rule that names no route. Each route
is then called, with a minimal valid request on real objects, by every kind of caller:
none, a revoked token, an ended session, tokens with and without the purpose, and each
staff role (a handler with and without the grant). A refusal is a 401/403 JSON body
with its code and nothing else; an admitted call is never refused, and nothing is a 5xx.
The console's pages have their own matrix (tests/console/test_role_matrix.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from haechi import Engine
from haechi.access.roles import Role
from haechi.api import create_app
from haechi.config import Settings
from haechi.engine import SYSTEM
from haechi.policy import demo_policy_text, parse_policy
from haechi.rights.models import RequestRules
from haechi.storage.database import create_db_engine
from haechi.storage.migrate import upgrade
from haechi.subjects.service import ConsentEvidence
from haechi.web.console import routes_of
from tests.access.staff_helpers import NEW_PASSWORD, add_and_login
from tests.conftest import PERSON, FakeClock, _truncate, cheap_auth, open_keys

OFFICER, HANDLER, AUDITOR, ADMIN = (
    Role.PRIVACY_OFFICER,
    Role.HANDLER,
    Role.AUDITOR,
    Role.ADMIN,
)
READERS = frozenset({OFFICER, AUDITOR})
STAFF = frozenset(Role)
# The purposes of the objects made below; the "without" callers hold only marketing.
GRANTED = ("service", "complaints")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Rule:
    """Who may call a route.

    ``public``: anyone, no credential. ``tokens``: service tokens. ``roles``: these
    staff roles. ``purpose``: a token or a handler needs a grant for the purpose of
    the object the call touches (the officer serves every purpose).
    """

    public: bool = False
    tokens: bool = False
    roles: frozenset[Role] = frozenset()
    purpose: bool = False


PUBLIC = Rule(public=True)
AUTHENTICATED = Rule(tokens=True, roles=STAFF)
FOR_PURPOSE = Rule(tokens=True, roles=frozenset({OFFICER, HANDLER}), purpose=True)
SESSION = Rule(roles=STAFF)
COMPLAINT_READERS = Rule(tokens=True, roles=frozenset({OFFICER, HANDLER, AUDITOR}), purpose=True)
ASSIGNEE = Rule(roles=frozenset({OFFICER, HANDLER}), purpose=True)


def staff(*roles: Role, purpose: bool = False) -> Rule:
    return Rule(roles=frozenset(roles), purpose=purpose)


RULES: dict[tuple[str, str], Rule] = {
    # Collections and subjects: the decision of the route's purpose.
    ("POST", "/api/v1/collections"): FOR_PURPOSE,
    ("GET", "/api/v1/collections/{collection_id}"): FOR_PURPOSE,
    ("POST", "/api/v1/collections/{collection_id}/withdraw"): FOR_PURPOSE,
    ("POST", "/api/v1/collections/{collection_id}/accomplished"): FOR_PURPOSE,
    ("POST", "/api/v1/collections/{collection_id}/consent"): FOR_PURPOSE,
    ("GET", "/api/v1/subjects/{subject_id}/items"): FOR_PURPOSE,
    # A lookup names no purpose: it finds only subjects the caller serves (null otherwise).
    ("POST", "/api/v1/subjects/lookup"): Rule(tokens=True, roles=frozenset({OFFICER, HANDLER})),
    ("POST", "/api/v1/optout-links"): FOR_PURPOSE,
    # The log: heads are public, the rest (proofs included) is for log readers.
    ("GET", "/api/v1/audit/heads"): PUBLIC,
    ("GET", "/api/v1/audit/events/{event_id}/proof"): staff(*READERS),
    ("GET", "/api/v1/alerts"): staff(*READERS),
    ("GET", "/api/v1/audit/review/{month}"): staff(*READERS),
    # Staff sessions and accounts.
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): SESSION,
    ("POST", "/api/v1/auth/password"): SESSION,
    ("GET", "/api/v1/staff"): staff(OFFICER, AUDITOR, ADMIN),
    ("GET", "/api/v1/staff/history"): staff(OFFICER, AUDITOR, ADMIN),
    ("POST", "/api/v1/staff"): staff(OFFICER),
    ("POST", "/api/v1/staff/{username}/grants"): staff(OFFICER),
    ("POST", "/api/v1/staff/{username}/revoke"): staff(OFFICER, ADMIN),
    ("PUT", "/api/v1/staff/{username}/role"): staff(OFFICER),
    ("POST", "/api/v1/staff/{username}/unlock"): staff(OFFICER),
    ("POST", "/api/v1/staff/{username}/password-reset"): staff(OFFICER),
    # The published policy.
    ("GET", "/api/v1/policy"): PUBLIC,
    ("GET", "/api/v1/policy/versions"): PUBLIC,
    # A person's requests and complaints, from the public side.
    ("POST", "/api/v1/public/requests"): PUBLIC,
    ("POST", "/api/v1/public/requests/{request_id}/verify"): PUBLIC,
    ("POST", "/api/v1/public/requests/{request_id}/code"): PUBLIC,
    ("GET", "/api/v1/public/requests/{request_id}"): PUBLIC,
    ("POST", "/api/v1/public/complaints"): PUBLIC,
    ("GET", "/api/v1/public/complaints/{complaint_id}"): PUBLIC,
    # Staff's side of requests: handlers for their purposes, auditors read.
    ("GET", "/api/v1/requests"): staff(OFFICER, HANDLER, AUDITOR),
    ("GET", "/api/v1/requests/{request_id}"): staff(OFFICER, HANDLER, AUDITOR, purpose=True),
    ("POST", "/api/v1/requests"): staff(OFFICER, HANDLER, purpose=True),
    ("POST", "/api/v1/requests/{request_id}/verify"): staff(OFFICER, HANDLER, purpose=True),
    ("POST", "/api/v1/requests/{request_id}/start"): staff(OFFICER, HANDLER, purpose=True),
    ("POST", "/api/v1/requests/{request_id}/complete"): staff(OFFICER, HANDLER, purpose=True),
    ("POST", "/api/v1/requests/{request_id}/refuse"): staff(OFFICER, HANDLER, purpose=True),
    ("POST", "/api/v1/requests/{request_id}/postpone"): staff(OFFICER, HANDLER, purpose=True),
    ("POST", "/api/v1/requests/{request_id}/lift"): staff(OFFICER, HANDLER, purpose=True),
    # Complaints: whoever serves the complaints purpose reads (auditors the metadata) and
    # assigns; the assignee (a handler granted complaints) or the officer acts.
    ("GET", "/api/v1/complaints"): COMPLAINT_READERS,
    ("GET", "/api/v1/complaints/{complaint_id}"): COMPLAINT_READERS,
    ("POST", "/api/v1/complaints/{complaint_id}/assign"): FOR_PURPOSE,
    ("POST", "/api/v1/complaints/{complaint_id}/messages"): ASSIGNEE,
    ("POST", "/api/v1/complaints/{complaint_id}/verify-contact"): ASSIGNEE,
    ("POST", "/api/v1/complaints/{complaint_id}/close"): ASSIGNEE,
    ("POST", "/api/v1/complaints/{complaint_id}/deliver"): ASSIGNEE,
    # The breach register: the officer acts, auditors read.
    ("GET", "/api/v1/incidents"): staff(*READERS),
    ("GET", "/api/v1/incidents/{incident_id}"): staff(*READERS),
    ("GET", "/api/v1/incidents/{incident_id}/proofs"): staff(*READERS),
    ("GET", "/api/v1/incidents/{incident_id}/subjects"): staff(OFFICER),
    ("POST", "/api/v1/incidents"): staff(OFFICER),
    ("POST", "/api/v1/incidents/{incident_id}/containment"): staff(OFFICER),
    ("POST", "/api/v1/incidents/{incident_id}/notify"): staff(OFFICER),
    ("POST", "/api/v1/incidents/{incident_id}/report"): staff(OFFICER),
    ("POST", "/api/v1/incidents/{incident_id}/close"): staff(OFFICER),
    # The server and the public site: no credential, none looked at.
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/privacy"): PUBLIC,
    ("GET", "/privacy/versions"): PUBLIC,
    ("GET", "/privacy/versions/{n}"): PUBLIC,
    ("GET", "/privacy/center"): PUBLIC,
    ("GET", "/privacy/requests"): PUBLIC,
    ("GET", "/privacy/requests/{kind}"): PUBLIC,
    ("POST", "/privacy/requests/{kind}"): PUBLIC,
    ("GET", "/privacy/requests/representative"): PUBLIC,
    ("POST", "/privacy/requests/representative"): PUBLIC,
    ("POST", "/privacy/verify"): PUBLIC,
    ("POST", "/privacy/verify/new-code"): PUBLIC,
    ("GET", "/privacy/status"): PUBLIC,
    ("POST", "/privacy/status"): PUBLIC,
    ("GET", "/privacy/complaints"): PUBLIC,
    ("POST", "/privacy/complaints"): PUBLIC,
    ("GET", "/privacy/complaints/status"): PUBLIC,
    ("POST", "/privacy/complaints/status"): PUBLIC,
    ("GET", "/privacy/optout/{token}"): PUBLIC,
    ("POST", "/privacy/optout/{token}"): PUBLIC,
}


@dataclass(frozen=True)
class Credential:
    """One kind of caller: how its secret is made, and what it holds."""

    name: str
    role: Role | None = None
    token: bool = False
    granted: bool = False
    dead: bool = False  # revoked or ended: refused whatever it once held


CREDENTIALS = [
    Credential("anonymous"),
    Credential("revoked_token", token=True, granted=True, dead=True),
    Credential("ended_session", role=OFFICER, granted=True, dead=True),
    Credential("token_without_purpose", token=True),
    Credential("token_with_purpose", token=True, granted=True),
    Credential("privacy_officer", role=OFFICER, granted=True),
    Credential("handler_with_grant", role=HANDLER, granted=True),
    Credential("handler_without_grant", role=HANDLER),
    Credential("auditor", role=AUDITOR),
    Credential("admin", role=ADMIN),
]


def admitted(rule: Rule, who: Credential) -> bool:
    """Whether ``rule`` lets ``who`` in."""
    if rule.public:
        return True
    if who.dead or (who.role is None and not who.token):
        return False
    if who.token:
        return rule.tokens and (who.granted or not rule.purpose)
    assert who.role is not None
    if who.role not in rule.roles:
        return False
    return who.granted or who.role is not HANDLER or not rule.purpose


# Refusals of the caller; anything else a 403 may say is about the data (consent…).
CALLER_REFUSALS = {
    "UNAUTHENTICATED",
    "INVALID_TOKEN",
    "SESSION_EXPIRED",
    "ROLE_REQUIRED",
    "NO_GRANT",
    "PASSWORD_CHANGE_REQUIRED",
}
DATA_REFUSALS = {"NO_CONSENT", "EXPIRED", "ACCOMPLISHED", "HELD", "SUSPENDED", "DESTROYED"}
ERROR_KEYS = {"error", "code", "detail", "field", "problems", "problem_count"}
_PARAM = re.compile(r"{([a-z_]+)}")


def app_routes() -> list[tuple[str, str]]:
    """(method, path) of every route of the application outside the console."""
    app = create_app(Settings())
    return sorted(
        (method, route.path)
        for route in routes_of(app.routes)
        if isinstance(route, APIRoute) and not route.path.startswith("/console")
        for method in route.methods
    )


ROUTES = app_routes()


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    """It refuses a route without a rule of who may call it, and a rule for no route."""
    assert len(ROUTES) > 70
    assert sorted(set(ROUTES) - set(RULES)) == []
    assert sorted(set(RULES) - set(ROUTES)) == []


@dataclass
class World:
    """The application, its engine, real objects for path parameters, and callers."""

    engine: Engine
    app: Any
    clock: FakeClock
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def unique(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def client(self, who: Credential) -> TestClient:
        # One address per caller, on the trusted loopback, so the per-address caps of
        # the public forms belong to one caller's calls only.
        address = f"127.0.0.{CREDENTIALS.index(who) + 10}"
        return TestClient(self.app, raise_server_exceptions=False, client=(address, 50000))

    def headers(self, who: Credential) -> dict[str, str]:
        """A bearer header for ``who``: a fresh session per call (logout ends one)."""
        if who.token:
            return {"Authorization": f"Bearer {self.tokens[who.name]}"}
        if who.role is None:
            return {}
        if who.dead:
            return {"Authorization": f"Bearer {self.tokens[who.name]}"}
        session = self.engine.login(username=who.name, password=NEW_PASSWORD, source_ip="127.0.0.1")
        assert session.secret is not None
        return {"Authorization": f"Bearer {session.secret}"}


def _engine(database: Any, tmp: Path, clock: FakeClock) -> Engine:
    engine = Engine(
        database=database,
        policy=parse_policy(demo_policy_text()),
        keys=open_keys(tmp),
        settings=Settings(data_dir=tmp / "data", auth=cheap_auth()),
        clock=clock,
    )
    # One code per public call here: the caps have their own tests below and elsewhere.
    engine.request_rules = replace(
        RequestRules(), codes_per_address_hour=1000, codes_per_source_hour=1000
    )
    return engine


def _populate(world: World) -> None:
    """Staff of every kind, tokens, and one of each object a path names."""
    engine = world.engine
    for who in CREDENTIALS:
        if who.role is not None:
            purposes = GRANTED if who.granted else ("marketing",)
            purposes = purposes if who.role is HANDLER else ()
            secret, _ = add_and_login(engine, who.name, who.role.value, *purposes)
            if who.dead:
                engine.logout(secret)
                world.tokens[who.name] = secret
        elif who.token:
            _, secret = engine.create_token(
                name=who.name, purposes=list(GRANTED if who.granted else ("marketing",))
            )
            world.tokens[who.name] = secret
            if who.dead:
                engine.revoke_token(who.name)
    add_and_login(engine, "target", "handler", "service")
    add_and_login(engine, "login-user", "auditor")
    officer = world.headers(CREDENTIALS[5])
    with TestClient(world.app, raise_server_exceptions=False) as client:
        made = client.post("/api/v1/collections", json=_collection(world), headers=officer)
        assert made.status_code == 201, made.text
        world.ids["subject_id"] = made.json()["subject_id"]
        world.ids["collection_id"] = made.json()["collection_id"]
        asked = client.post(
            "/api/v1/public/requests",
            json={"kind": "access", "email": PERSON["email"], "lang": "en"},
        )
        assert asked.status_code == 202, asked.text
        world.ids["request_id"] = asked.json()["request_id"]
        world.ids["request_token"] = asked.json()["status_token"]
        complaint = client.post("/api/v1/public/complaints", json=_complaint(world))
        assert complaint.status_code == 202, complaint.text
        world.ids["complaint_id"] = complaint.json()["complaint_id"]
        world.ids["complaint_token"] = complaint.json()["status_token"]
        engine.assign_complaint(world.ids["complaint_id"], to="handler_with_grant", actor=SYSTEM)
        incident = client.post("/api/v1/incidents", json=_incident(world), headers=officer)
        assert incident.status_code == 201, incident.text
        world.ids["incident_id"] = incident.json()["id"]
    world.ids["optout"] = engine.optout_link(
        world.ids["subject_id"], purpose="service", valid_days=30, actor=SYSTEM
    )
    world.ids["event_id"] = str(engine.events(limit=1)[0].id)
    engine.seal()  # the proof route then has a head to prove the event in


def _collection(world: World) -> dict[str, Any]:
    email = f"{world.unique('p')}@example.kr" if world.ids else PERSON["email"]
    return {
        "purpose": "service",
        "items": {**PERSON, "email": email},
        "consent": {"granted": True, "method": "web-form"},
    }


def _complaint(world: World) -> dict[str, Any]:
    return {
        "items": {**PERSON, "email": f"{world.unique('c')}@example.kr"},
        "description": "a complaint",
        "consent": {"granted": True, "method": "web-form"},
    }


def _incident(world: World) -> dict[str, Any]:
    now = world.clock.now
    return {
        "title": "a lost laptop",
        "aware_at": now.isoformat(),
        "from": (now - timedelta(days=1)).isoformat(),
        "to": now.isoformat(),
        "actors": ["token_with_purpose"],
    }


Body = Callable[[World], dict[str, Any]]
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/api/v1/collections"): _collection,
    ("POST", "/api/v1/collections/{collection_id}/withdraw"): lambda w: {"method": "api"},
    ("POST", "/api/v1/collections/{collection_id}/consent"): lambda w: {
        "granted": True,
        "method": "web-form",
    },
    ("POST", "/api/v1/subjects/lookup"): lambda w: {"kind": "email", "value": PERSON["email"]},
    ("POST", "/api/v1/optout-links"): lambda w: {
        "subject_id": w.ids["subject_id"],
        "purpose": "service",
    },
    ("POST", "/api/v1/auth/login"): lambda w: {"username": "login-user", "password": NEW_PASSWORD},
    ("POST", "/api/v1/auth/password"): lambda w: {
        "current_password": NEW_PASSWORD,
        "new_password": NEW_PASSWORD,
    },
    ("POST", "/api/v1/staff"): lambda w: {"username": w.unique("new"), "role": "auditor"},
    ("POST", "/api/v1/staff/{username}/grants"): lambda w: {
        "purposes": ["service"],
        "reason": "matrix",
    },
    ("POST", "/api/v1/staff/{username}/revoke"): lambda w: {
        "purposes": ["service"],
        "reason": "matrix",
    },
    ("PUT", "/api/v1/staff/{username}/role"): lambda w: {"role": "handler", "reason": "matrix"},
    ("POST", "/api/v1/staff/{username}/unlock"): lambda w: {},
    ("POST", "/api/v1/staff/{username}/password-reset"): lambda w: {},
    ("POST", "/api/v1/public/requests"): lambda w: {
        "kind": "access",
        "email": f"{w.unique('r')}@example.kr",
        "lang": "en",
    },
    ("POST", "/api/v1/public/requests/{request_id}/verify"): lambda w: {"code": "000000"},
    ("POST", "/api/v1/public/complaints"): _complaint,
    ("POST", "/api/v1/requests"): lambda w: {
        "kind": "access",
        "email": PERSON["email"],
        "channel": "email",
        "purposes": ["service"],
    },
    ("POST", "/api/v1/requests/{request_id}/verify"): lambda w: {"method": "id_document"},
    ("POST", "/api/v1/requests/{request_id}/complete"): lambda w: {"delivery": "post"},
    ("POST", "/api/v1/requests/{request_id}/refuse"): lambda w: {
        "reason": "IDENTITY_NOT_CONFIRMED"
    },
    ("POST", "/api/v1/requests/{request_id}/postpone"): lambda w: {
        "reason": "LARGE_VOLUME",
        "due_at": (w.clock.now + timedelta(days=3)).isoformat(),
    },
    ("POST", "/api/v1/complaints/{complaint_id}/assign"): lambda w: {
        "assignee": "handler_with_grant"
    },
    ("POST", "/api/v1/complaints/{complaint_id}/messages"): lambda w: {"text": "a reply"},
    ("POST", "/api/v1/complaints/{complaint_id}/verify-contact"): lambda w: {"method": "phone"},
    ("POST", "/api/v1/complaints/{complaint_id}/close"): lambda w: {
        "result": "answered",
        "delivery": "post",
    },
    ("POST", "/api/v1/incidents"): _incident,
    ("POST", "/api/v1/incidents/{incident_id}/containment"): lambda w: {"kind": "other"},
}
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/api/v1/subjects/{subject_id}/items"): {"purpose": "service"},
}


def _path(world: World, path: str) -> str:
    values = {
        **world.ids,
        "username": "target",
        "month": world.clock.now.strftime("%Y-%m"),
        "n": "1",
        "kind": "access",
        "token": world.ids["optout"],
    }
    return _PARAM.sub(lambda match: values[match.group(1)], path)


def _status_token(world: World, path: str) -> dict[str, str]:
    if path.startswith("/api/v1/public/requests/{"):
        return {"X-Status-Token": world.ids["request_token"]}
    if path.startswith("/api/v1/public/complaints/{"):
        return {"X-Status-Token": world.ids["complaint_token"]}
    return {}


def call(world: World, client: TestClient, who: Credential, method: str, path: str) -> Response:
    """``method path`` as ``who``, with a minimal valid request."""
    headers = {**world.headers(who), **_status_token(world, path)}
    url = _path(world, path)
    if path.startswith("/privacy") and method == "POST":
        if who.name not in world.csrf:
            page = client.get("/privacy/complaints")
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert found is not None
            world.csrf[who.name] = found.group(1)
        return client.post(url, data={"csrf_token": world.csrf[who.name]}, headers=headers)
    body = BODIES.get((method, path))
    return client.request(
        method,
        url,
        json=body(world) if body is not None else None,
        params=QUERIES.get((method, path)),
        headers=headers,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One application per backend for the whole matrix (the database fixture is per test)."""
    tmp = tmp_path_factory.mktemp(f"authz-{request.param}")
    clock = FakeClock(START)
    if request.param == "sqlite":
        database = create_db_engine(f"sqlite:///{tmp / 'haechi.db'}")
        upgrade(database)
    else:
        database = request.getfixturevalue("_postgres_engine")
        _truncate(database)
    engine = _engine(database, tmp, clock)
    world = World(engine=engine, app=create_app(engine=engine), clock=clock)
    _populate(world)
    yield world
    if request.param == "sqlite":
        database.dispose()
    else:
        _truncate(database)


def _order(route: tuple[str, str]) -> tuple[int, str, str]:
    # Reads first, then changes; logout and closing steps after the rest.
    method, path = route
    last = path.endswith(("/logout", "/close", "/complete", "/refuse", "/accomplished"))
    return (0 if method == "GET" else 2 if last else 1, path, method)


@pytest.mark.parametrize("who", CREDENTIALS, ids=[who.name for who in CREDENTIALS])
def test_each_route_admits_exactly_the_callers_its_rule_names(
    world: World, who: Credential
) -> None:
    """It refuses callers outside a route's rule with 401/403 JSON and a code, nothing more.

    Admitted callers are never refused as callers (a 403 for the data's state, as a
    withdrawn consent, is the decision working); no call is a 5xx.
    """
    client = world.client(who)
    wrong = [
        f"{method} {path}: {problem}"
        for method, path in sorted(RULES, key=_order)
        if (problem := _judge(RULES[(method, path)], who, call(world, client, who, method, path)))
    ]
    assert wrong == [], "\n".join(wrong)


def _judge(rule: Rule, who: Credential, response: Response) -> str | None:
    """What is wrong with ``response`` to ``who`` under ``rule`` (None: nothing)."""
    seen = f"{response.status_code} {response.text[:160]}"
    if response.status_code >= 500:
        return seen
    if admitted(rule, who):
        if response.status_code == 401 or (
            response.status_code == 403 and response.json().get("code") not in DATA_REFUSALS
        ):
            return f"admitted, but {seen}"
        return None
    expected = 401 if who.dead or (who.role is None and not who.token) else 403
    if response.status_code != expected:
        return f"refused with {expected} expected, but {seen}"
    refusal = response.json()
    if not set(refusal) <= ERROR_KEYS or refusal["code"] not in CALLER_REFUSALS:
        return f"refusal body: {seen}"
    return None


def test_revocations_through_the_api_bite_on_the_very_next_call(world: World) -> None:
    """It refuses what was revoked through the API on the very next call.

    A session logged out, a grant revoked, an account closed and a token revoked by an
    incident's containment: each works once, then is refused with 401/403 and a code.
    """
    engine = world.engine
    client = TestClient(world.app, raise_server_exceptions=False, client=("127.0.0.1", 50001))
    officer = world.headers(CREDENTIALS[5])
    fresh_subject = engine.collect(
        purpose="service",
        items=_collection(world)["items"],
        consent=ConsentEvidence(granted=True, method="web-form"),
        actor=SYSTEM,
    ).subject_id
    read = f"/api/v1/subjects/{fresh_subject}/items"
    name = world.unique("leaver")
    secret, _ = add_and_login(engine, name, "handler", "service")
    leaver = {"Authorization": f"Bearer {secret}"}
    steps: list[tuple[str, dict[str, str], Callable[[], Response], int, str]] = []

    def logout() -> Response:
        return client.post("/api/v1/auth/logout", headers=leaver)

    steps.append(("logout", leaver, logout, 401, "INVALID_TOKEN"))
    for label, body, status, code in (
        ("revoke grant", {"purposes": ["service"], "reason": "moved"}, 403, "NO_GRANT"),
        ("close account", {"account": True, "reason": "left"}, 401, "INVALID_TOKEN"),
    ):
        fresh = engine.login(username=name, password=NEW_PASSWORD, source_ip="127.0.0.1")
        assert fresh.secret is not None
        headers = {"Authorization": f"Bearer {fresh.secret}"}
        steps.append(
            (
                label,
                headers,
                lambda body=body: client.post(
                    f"/api/v1/staff/{name}/revoke", json=body, headers=officer
                ),
                status,
                code,
            )
        )
    opened = client.post("/api/v1/incidents", json=_incident(world), headers=officer)
    assert opened.status_code == 201, opened.text
    token_name = world.unique("svc")
    _, token = engine.create_token(name=token_name, purposes=["service"])
    steps.append(
        (
            "containment",
            {"Authorization": f"Bearer {token}"},
            lambda: client.post(
                f"/api/v1/incidents/{opened.json()['id']}/containment",
                json={"kind": "token_revoked", "target": token_name},
                headers=officer,
            ),
            401,
            "INVALID_TOKEN",
        )
    )
    for label, headers, revoke, status, code in steps:
        # After the grant is gone the account still reads the queue: that is the probe.
        probe = "/api/v1/requests" if label == "close account" else read
        query = {} if label == "close account" else {"purpose": "service"}
        before = client.get(probe, params=query, headers=headers)
        assert before.status_code == 200, label
        assert revoke().status_code in (200, 204), label
        after = client.get(probe, params=query, headers=headers)
        assert (after.status_code, after.json()["code"]) == (status, code), label
        assert set(after.json()) <= ERROR_KEYS, label
