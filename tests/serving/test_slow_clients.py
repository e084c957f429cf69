"""The production server keeps answering while slow clients hold connections, and closes them itself.

Loopback only, a bounded number of connections, a few seconds: the server's read
timeout is set to 3 s here (10 s by default) so that its closing can be watched.
"""
from __future__ import annotations

import json
import socket
import time

import pytest

from engine import presets
from tests.serving.test_production import serve

READ_TIMEOUT = 3
SLOW = 50


@pytest.fixture(scope="module")
def server(start_server):
    base = start_server(
        lambda port: ["env", f"BACKPROP_VIZ_READ_TIMEOUT={READ_TIMEOUT}", *serve("--workers", "2")(port)],
        probe="/healthz",
    )
    return "127.0.0.1", int(base.rsplit(":", 1)[1])


@pytest.fixture
def body() -> bytes:
    return json.dumps(presets.get("seed002-ex2").body()).encode()


def request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def answer(address, data: bytes, timeout: float) -> tuple[bytes, float]:
    """The whole answer to one request on a new connection, and the seconds it took."""
    start = time.monotonic()
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - start


def closed_after(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """What the server sent before closing `sock`, and when it closed it (seconds from now)."""
    start = time.monotonic()
    sock.settimeout(limit)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - start


def test_a_health_check_and_a_trace_answer_with_slow_clients_connected(server, body):
    slow = []
    try:
        for _ in range(SLOW):  # each sends the headers and one byte of the body, then waits
            sock = socket.create_connection(server, timeout=5)
            sock.sendall(request("POST", "/api/v1/trace", body)[: -len(body) + 1])
            slow.append(sock)
        for data in (request("GET", "/healthz"), request("POST", "/api/v1/trace", body)):
            text, seconds = answer(server, data, timeout=1)
            assert text.startswith(b"HTTP/1.1 200 ") and seconds < 1
        # The server gives up on them by itself, with a 408, about READ_TIMEOUT after they stopped sending.
        for sock in slow:
            received, _ = closed_after(sock, READ_TIMEOUT + 5)
            assert received.startswith(b"HTTP/1.1 408 ")
    finally:
        for sock in slow:
            sock.close()


def test_a_connection_that_sends_nothing_is_closed(server):
    with socket.create_connection(server, timeout=5) as sock:
        received, seconds = closed_after(sock, READ_TIMEOUT + 5)
    assert received == b"" and READ_TIMEOUT - 0.5 < seconds < READ_TIMEOUT + 2


def test_headers_sent_slowly_are_cut_off_at_the_deadline(server):
    """Each byte comes within the read timeout, but the whole head must arrive within it too."""
    with socket.create_connection(server, timeout=5) as sock:
        start = time.monotonic()
        try:
            for byte in request("GET", "/healthz"):
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
                if time.monotonic() - start > READ_TIMEOUT + 3:
                    break
        except OSError:
            pass  # the server closed it (a reset, with bytes unread)
        received, _ = closed_after(sock, 5)
    assert time.monotonic() - start < READ_TIMEOUT + 3
    assert not received.startswith(b"HTTP/1.1 200")
