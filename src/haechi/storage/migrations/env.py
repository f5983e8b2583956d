"""Alembic environment: runs migrations on the engine handed over by Haechi."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

# Importing the module registers the complaints tables on the same metadata.
import haechi.storage.complaints_tables  # noqa: F401
from haechi.storage.tables import metadata

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through haechi.storage.migrate.upgrade()")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
