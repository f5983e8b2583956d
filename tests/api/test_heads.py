"""Request heads are bounded in size, count and time by ``haechi serve`` itself.

Over raw sockets against a real server (``haechi.api.protocol.BoundedHttpTools``):
a head past 64 KiB or past 100 headers gets 431, a head trickling in gets 408, a
connection that never sends is closed, and what the parser cannot read gets a JSON
400; each refusal names the problem and closes the connection, and the server goes on
serving.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.test_serve import data_dir
from tests.serving import serving

__all__ = ["data_dir"]


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[tuple[str, int]]:
    with serving(data_dir, HAECHI__SERVER__HEADER_TIMEOUT_SECONDS="1") as (url, _):
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        yield parts.hostname, parts.port


def _exchange(server: tuple[str, int], *chunks: bytes, pause: float = 0) -> bytes:
    """Send ``chunks`` (``pause`` seconds apart) and read until the server closes."""
    with socket.create_connection(server, timeout=15) as connection:
        try:
            for chunk in chunks:
                connection.sendall(chunk)
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused part-way: the answer is still to be read
        answer = b""
        while True:
            try:
                part = connection.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            answer += part
        return answer


def _refusal(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower()
    assert b"connection: close" in head.lower()
    return status, json.loads(body)


def test_a_head_too_large_is_431(server: tuple[str, int]) -> None:
    """It refuses a 200 KiB header after reading little more than 64 KiB of it."""
    status, body = _refusal(
        _exchange(
            server,
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Junk: ",
            b"a" * 200_000,
            b"\r\n\r\n",
        )
    )
    assert (status, body["code"], body["field"]) == (431, "HEADERS_TOO_LARGE", "headers")


def test_too_many_headers_are_431(server: tuple[str, int]) -> None:
    """It refuses a request with 150 headers."""
    headers = b"".join(b"X-H%d: v\r\n" % index for index in range(150))
    answer = _exchange(server, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    status, body = _refusal(answer)
    assert (status, body["code"]) == (431, "HEADERS_TOO_LARGE")


def test_a_head_trickling_in_is_408(server: tuple[str, int]) -> None:
    """It refuses a head still incomplete after the header timeout (1 s here)."""
    started = time.monotonic()
    lines = [b"GET /api/v1/health HTTP/1.1\r\n"] + [b"X-Slow: 1\r\n"] * 5
    status, body = _refusal(_exchange(server, *lines, pause=0.5))
    assert (status, body["code"]) == (408, "HEAD_TIMEOUT")
    assert time.monotonic() - started < 5


def test_a_silent_connection_is_closed(server: tuple[str, int]) -> None:
    """It closes a connection that sends nothing within the header timeout."""
    with socket.create_connection(server, timeout=10) as connection:
        started = time.monotonic()
        assert connection.recv(1024) == b""
        assert time.monotonic() - started < 5


def test_what_the_parser_cannot_read_is_a_json_400(server: tuple[str, int]) -> None:
    """It answers an unreadable request line with a JSON 400 naming the request."""
    status, body = _refusal(_exchange(server, b"FOO BAR BAZ\r\n\r\n"))
    assert (status, body["code"], body["field"]) == (400, "MALFORMED_REQUEST", "request")


def test_the_server_serves_on_after_refusals(server: tuple[str, int]) -> None:
    """It answers a plain request, with its ordinary headers, after every refusal above."""
    host, port = server
    answer = httpx.get(f"http://{host}:{port}/api/v1/health", headers={"X-Fine": "y" * 4000})
    assert answer.status_code == 200


def test_a_large_body_before_a_pipelined_request_is_no_head(server: tuple[str, int]) -> None:
    """It answers both of two pipelined requests when a long body precedes the second."""
    padded = b'{"username": "kim", "password": "not it"' + b" " * 70_000 + b"}"
    first = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(padded) + padded
    )
    second = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = _exchange(server, first + second[:20], second[20:], pause=0.3)
    # The second status line follows the first body directly.
    statuses = [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]
    assert statuses == [401, 200]


def test_a_head_too_large_in_one_read_is_431(server: tuple[str, int]) -> None:
    """It measures a head that arrived whole, not only one that trickles in."""
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    status, body = _refusal(_exchange(server, head))
    assert (status, body["code"]) == (431, "HEADERS_TOO_LARGE")


def test_empty_lines_between_requests_do_not_hold_a_connection(server: tuple[str, int]) -> None:
    """It closes a kept-alive connection that sends only empty lines after its answer."""
    with socket.create_connection(server, timeout=10) as connection:
        connection.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 6:
            try:
                connection.sendall(b"\r\n")
                connection.settimeout(0.4)
                if connection.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed
        assert time.monotonic() - started < 4
