"""Where the web surface's static files are, and their cache-busting URLs.

Apart from :mod:`haechi.web.pages` (which serves them) so that rendering a document —
``haechi policy render``, a report, an export — needs no web framework loaded.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files
from pathlib import Path

__all__ = ["STATIC_PREFIX", "static_dir", "static_url"]

STATIC_PREFIX = "/static"


def static_dir() -> Path:
    """Where the static files are (package data)."""
    return Path(str(files("haechi.web").joinpath("static")))


@cache
def static_url(name: str) -> str:
    """The URL of static file ``name``, with a digest of its content for caching."""
    path = static_dir() / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"{STATIC_PREFIX}/{name}?v={digest}"
