"""Migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from haechi.storage.migrate import current_revision, head_revision, upgrade
from haechi.storage.tables import SEPARATED_SCHEMA, metadata
from tests.conftest import Database


def _ours(name: str | None, kind: str, _parents: dict[str, str | None]) -> bool:
    """Compare the default schema and the separated store, nothing else of the server."""
    return kind != "schema" or name in (None, SEPARATED_SCHEMA)


def test_migrated_schema_matches_the_tables(database: Database) -> None:
    """It leaves no difference between the migrated database and the table definitions."""
    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_schemas": True, "include_name": _ours}
        )
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_upgrade_is_idempotent(database: Database) -> None:
    """It can run again on a current database and changes nothing."""
    upgrade(database.engine)
    assert current_revision(database.engine) == head_revision()
