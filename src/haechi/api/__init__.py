"""HTTP API (FastAPI)."""

from haechi.api.app import create_app

__all__ = ["create_app"]
