"""Pure ASGI layers that run before routing, before any token check or body parsing.

* :class:`ClientAddress` puts the true client address in ``scope["client"]``: the
  X-Forwarded-For header counts only when the socket peer is a listed proxy, and then
  the client is the rightmost address that is not a listed proxy.
* :class:`RequestLimits` refuses a URL holding a NUL character (400) and a body larger
  than ``server.max_body_bytes`` (413): a declared Content-Length at once, a streamed
  body as soon as its bytes pass the limit, so no more of it is read; and a body that
  stalls for ``server.body_timeout_seconds`` (408).

Both are plain ASGI callables (no ``BaseHTTPMiddleware``): one function call per request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haechi.api.errors import error_body

__all__ = ["ClientAddress", "RequestLimits", "client_from"]

Network = IPv4Network | IPv6Network


def client_from(
    peer: str | None, forwarded: Iterable[str], proxies: tuple[Network, ...]
) -> str | None:
    """The client behind ``peer``, reading X-Forwarded-For values only if ``peer`` is a proxy.

    Walking from the right, each listed proxy speaks for the address to its left; the
    first address that is not a listed proxy is the client. An entry that is not an
    address ends the walk with no client known (``None``): it cannot be trusted, and an
    unknown address never counts as a trusted network.
    """
    if peer is None or not _listed(peer, proxies):
        return peer
    hops = [hop.strip() for value in forwarded for hop in value.split(",")]
    client = peer
    for hop in reversed(hops):
        if not hop:
            continue
        try:
            address = ip_address(hop)
        except ValueError:
            return None
        client = str(address)
        if not any(address in network for network in proxies):
            return client
    # Every hop is a listed proxy: the leftmost one is the client.
    return client


def _listed(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


class ClientAddress:
    """Rewrite ``scope["client"]`` to the true client when the peer is a trusted proxy."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.proxies = tuple(ip_network(cidr, strict=False) for cidr in trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Resolve the client, then hand the request on."""
        if self.proxies and scope["type"] in ("http", "websocket"):
            forwarded = [
                value.decode("latin-1")
                for name, value in scope.get("headers", ())
                if name == b"x-forwarded-for"
            ]
            if forwarded:
                peer = scope.get("client")
                client = client_from(peer[0] if peer else None, forwarded, self.proxies)
                # In place, as uvicorn's own proxy middleware does: its access log sees it.
                scope["client"] = (client, 0) if client is not None else None
        await self.app(scope, receive, send)


async def _send_error(
    send: Send, status: int, message: str, code: str, field: str, *, close: bool = False
) -> None:
    payload = json.dumps(error_body(message, code, field=field)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class _TooLarge(Exception):
    """The body passed the limit or its deadline; the 413 (or 408) is already sent."""


class RequestLimits:
    """Refuse NUL characters in the URL, bodies over ``max_body_bytes``, and slow bodies.

    A body whose next part takes longer than ``body_timeout_seconds`` to arrive is
    refused with 408: a client trickling a byte at a time holds no connection for ever.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, body_timeout_seconds: float = 30.0
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_seconds = body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what no handler may see; count the body of the rest as it arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # No database column can hold a NUL; one in the query can only come as %00.
        query = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            await _send_error(send, 400, "the URL contains a NUL character", "INVALID_INPUT", "url")
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(send)
            return
        await self._limited(scope, receive, send)

    async def _refuse(self, send: Send) -> None:
        await _send_error(
            send,
            413,
            f"the request body is larger than {self.max_body_bytes} bytes",
            "BODY_TOO_LARGE",
            "body",
            close=True,
        )

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        refused = False
        complete = False

        async def counted() -> Message:
            nonlocal received, refused, complete
            if refused:
                return {"type": "http.disconnect"}
            if complete:
                # After the body, receive() only waits for a disconnect: no deadline.
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout_seconds)
            except TimeoutError:
                refused = True
                await _send_error(
                    send,
                    408,
                    f"the request body did not arrive within {self.body_timeout_seconds:g} s",
                    "BODY_TIMEOUT",
                    "body",
                    close=True,
                )
                raise _TooLarge from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.max_body_bytes:
                    refused = True
                    await self._refuse(send)
                    raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            # Once the 413 is out, whatever the application answers is dropped.
            if not refused:
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            # The application turns the interrupted read into an error of its own.
            if not refused:
                raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
