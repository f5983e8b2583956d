"""The HTTP/1.1 protocol of ``haechi serve``: uvicorn's httptools one, with bounded heads.

uvicorn's httptools protocol bounds neither a request's head nor the time it takes:
a header of 200 MB is buffered whole, a thousand headers are all kept, and a client
sending a header line a second holds its connection for ever. :class:`BoundedHttpTools`
refuses, before the application sees the request:

* a head (request line and headers) past :attr:`HeadLimits.max_bytes`: 431;
* more than :attr:`HeadLimits.max_headers` headers: 431;
* a head not complete :attr:`HeadLimits.seconds` after its first byte, or after the
  connection opened: 408 (or the connection closed, if no byte came);

and answers what the parser cannot read with a JSON 400 like every other refusal of
the API, not uvicorn's plain-text one. Bodies are bounded by the application
(:class:`haechi.api.middleware.RequestLimits`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from haechi.api.errors import error_body

__all__ = ["BoundedHttpTools", "HeadLimits"]


@dataclass(frozen=True)
class HeadLimits:
    """Bounds of a request's head."""

    max_bytes: int = 64 * 1024
    max_headers: int = 100
    seconds: float = 10.0


class _Refused(Exception):
    """Raised in a parser callback once the request is refused: the parser stops."""


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing heads too large, too many or too slow."""

    def __init__(self, *args: Any, limits: HeadLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits or HeadLimits()
        self._in_head = False
        self._head_bytes = 0
        self._header_count = 0
        self._head_timer: Any = None
        self._refused = False
        self._began = False

    def connection_made(self, transport: Any) -> None:
        """A new connection: its first request must begin in time."""
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection closed: no timer is left behind."""
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Parse ``data``; refuse the request once its incomplete head is too large."""
        if self._refused:
            return
        was_in_head = self._in_head
        self._began = False
        super().data_received(data)
        if self._refused:
            return
        if self._in_head:
            # A read that began and ended inside one head is all head: its bytes wait
            # in the parser. A read in which a request began may hold the end of the one
            # before; it is not counted (one read at most), and the whole head is
            # measured once complete (on_headers_complete).
            if was_in_head and not self._began:
                self._head_bytes += len(data)
            if self._head_bytes > self._limits.max_bytes:
                self._refuse(431, "the request's head (its line and headers) is too large")
        elif self._head_timer is None and self._between_requests():
            # Bytes between requests (the empty lines a parser skips) start no request
            # and stop uvicorn's keep-alive timer: the head's timer watches instead.
            self._arm()

    def on_message_begin(self) -> None:
        """A request begins: its head is counted and timed from here."""
        super().on_message_begin()
        self._began = True
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._arm()

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header more; past the bound the request is refused."""
        self._header_count += 1
        if self._header_count > self._limits.max_headers:
            self._refuse(431, "the request has too many headers")
            raise _Refused  # stops the parser: nothing more of this request is read
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is whole: measured, then the application takes the request."""
        self._in_head = False
        self._disarm()
        if self._refused:
            return
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self._limits.max_bytes:
            self._refuse(431, "the request's head (its line and headers) is too large")
            raise _Refused
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """What the parser cannot read: a JSON 400 (uvicorn's own is plain text)."""
        self._send(400, "the request is not valid HTTP", "MALFORMED_REQUEST", field="request")

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self._limits.seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._refuse(408, "the request's head took too long to arrive")
        elif self._between_requests() and not self.transport.is_closing():
            self.transport.close()  # no request came (or none after the last answer)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _refuse(self, status: int, message: str) -> None:
        code = "HEADERS_TOO_LARGE" if status == 431 else "HEAD_TIMEOUT"
        self._send(status, message, code, field="headers")

    def _send(self, status: int, message: str, code: str, *, field: str) -> None:
        self._refused = True
        self._disarm()
        if self.transport.is_closing():
            return
        payload = json.dumps(error_body(message, code, field=field)).encode()
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n"
            % (status, HTTPStatus(status).phrase.encode(), len(payload))
        )
        self.transport.write(head + payload)
        self.transport.close()
