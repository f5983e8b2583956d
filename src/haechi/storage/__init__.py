"""Storage: database engines, the tables, and their migrations."""

from haechi.storage.database import create_db_engine, normalize_url
from haechi.storage.migrate import current_revision, head_revision, upgrade

__all__ = ["create_db_engine", "current_revision", "head_revision", "normalize_url", "upgrade"]
