"""Bearer secrets at rest: API tokens and staff sessions are stored by one digest."""

from __future__ import annotations

from sqlalchemy import select

from haechi import Engine
from haechi.access.tokens import secret_digest
from haechi.storage.tables import api_tokens, staff_sessions
from tests.access.staff_helpers import add_and_login


def test_api_tokens_and_sessions_store_the_same_digest_of_their_secret(engine: Engine) -> None:
    """It keeps only secret_digest(secret) for both kinds of bearer secret, never the secret."""
    _, token = engine.create_token(name="crm", purposes=["service"])
    session, _ = add_and_login(engine, "kim", "handler", "service")
    with engine.database.connect() as connection:
        stored_token = connection.execute(select(api_tokens.c.token_hash)).scalar_one()
        stored_sessions = set(connection.execute(select(staff_sessions.c.token_hash)).scalars())
    assert stored_token == secret_digest(token)
    assert secret_digest(session) in stored_sessions
    assert token not in stored_sessions | {stored_token}
    assert len(secret_digest(token)) == 64
    assert engine.authenticate(token).name == "token:crm"
    assert engine.authenticate(session).name == "kim"
