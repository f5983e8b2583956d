"""What the server's own log may hold: the shape of a request, never the client's text.

uvicorn writes every request's path and query string to its access log, and every
unexpected exception with its message and traceback to its error log. A query string
carries reasons and item names; a path, whatever a client typed; an exception message,
a value. :func:`redact_server_logs` puts two filters on uvicorn's loggers:

* :class:`AccessLogRedaction` keeps the method, the route's own words and the ids
  of a path (UUIDs, months, and a number only where a route takes one, after its
  word: ``events/123``); any other segment and the whole query string become
  ``<redacted>``. A phone, card or resident number typed where an id goes is
  redacted like any other text;
* :class:`ExceptionTypeOnly` replaces a traceback by the exception's type and where
  Haechi's code raised it.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from pathlib import PurePath

from fastapi import FastAPI

__all__ = ["REDACTED", "AccessLogRedaction", "ExceptionTypeOnly", "redact_server_logs"]

REDACTED = "<redacted>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9]{4}-[0-9]{2}")
_NUMBER = re.compile(r"[0-9]{1,19}")


class AccessLogRedaction(logging.Filter):
    """Rewrite uvicorn's access line ``client - "METHOD path HTTP/v" status``."""

    def __init__(self, words: Iterable[str], numbered: Iterable[str] = ()) -> None:
        super().__init__()
        self.words = frozenset(words)
        #: words a route follows with a number (``events`` of ``events/{event_id}``)
        self.numbered = frozenset(numbered)

    @classmethod
    def for_app(cls, app: FastAPI) -> AccessLogRedaction:
        """A filter that keeps the literal segments of ``app``'s routes, and their numbers."""
        schema = app.openapi()["paths"]
        # Included routers are not listed in app.routes: their paths come from the schema.
        paths = [*schema, *(str(getattr(r, "path", "")) for r in app.routes)]
        numbered = set()
        for path, operations in schema.items():
            segments = path.split("/")
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") != "path":
                        continue
                    if parameter.get("schema", {}).get("type") != "integer":
                        continue
                    where = segments.index("{" + parameter["name"] + "}")
                    if where > 0:
                        numbered.add(segments[where - 1])
        words = (segment for path in paths for segment in path.split("/") if "{" not in segment)
        return cls(words, numbered)

    def redact(self, path: str) -> str:
        """``path`` with only route words and ids kept, and no query string."""
        path, query, _ = path.partition("?")
        segments = path.split("/")
        kept = [
            segment
            if not segment
            or segment in self.words
            or _ID.fullmatch(segment)
            or (_NUMBER.fullmatch(segment) and index > 0 and segments[index - 1] in self.numbered)
            else REDACTED
            for index, segment in enumerate(segments)
        ]
        return "/".join(kept) + (f"?{REDACTED}" if query else "")

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, its path and method redacted."""
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            record.args = (
                client,
                method if method in _METHODS else REDACTED,
                self.redact(str(path)),
                version,
                status,
            )
        return True


class ExceptionTypeOnly(logging.Filter):
    """Replace a logged exception by its type and the place in Haechi that raised it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, its traceback reduced to one line."""
        if not record.exc_info or record.exc_info[1] is None:
            return True
        error = record.exc_info[1]
        frames = traceback.extract_tb(error.__traceback__)
        ours = [frame for frame in frames if "haechi" in PurePath(frame.filename).parts]
        where = ours[-1] if ours else (frames[-1] if frames else None)
        place = ""
        if where is not None:
            place = f" at {PurePath(where.filename).name}:{where.lineno} in {where.name}"
        record.msg = "unexpected %s%s (its message is not logged: it may hold a value)"
        record.args = (type(error).__name__, place)
        record.exc_info = None
        record.exc_text = None
        return True


def redact_server_logs(app: FastAPI) -> None:
    """Put the filters on uvicorn's loggers (after uvicorn configured its logging)."""
    logging.getLogger("uvicorn.access").addFilter(AccessLogRedaction.for_app(app))
    logging.getLogger("uvicorn.error").addFilter(ExceptionTypeOnly())
