"""The request-header deadline (`http/header_timeout.py`) inside a real uvicorn, for both
of uvicorn's HTTP parsers: slow or unfinished headers are cut off, requests whose
headers arrived are not, whatever they take.

A small ASGI app stands in for modelyard here (the deadline lives below the
application); `tests/faults/test_request_limits.py` checks it in `modelyard server`.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from modelyard.http.header_timeout import protocol_with_header_timeout

DEADLINE = 0.5
# The event loop's timers may fire a millisecond or so early (uvloop rounds to
# whole milliseconds), and the server starts counting a moment before the test
# does; the lower bounds allow for that.
SOONEST = 0.9 * DEADLINE


async def _echo_length(scope: Any, receive: Any, send: Any) -> None:
    """Answers with the number of body bytes it received."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@contextmanager
def _serve(parser: str, seconds: float = DEADLINE) -> Iterator[tuple[str, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(
        _echo_length,
        http=protocol_with_header_timeout(seconds, parser=parser),  # type: ignore[arg-type]
        log_level="warning",
        lifespan="off",
        timeout_keep_alive=30,  # longer than the deadline, so it is ours that acts
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)  # start-up poll, not a timing assumption
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(params=["httptools", "h11"], scope="module")
def address(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    with _serve(request.param) as addr:
        yield addr


def _read_until_closed(sock: socket.socket, limit: float = 20) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed."""
    sock.settimeout(limit)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer, time.monotonic()


def test_unfinished_request_line_is_408_and_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sent = time.monotonic()
        sock.sendall(b"GET /api/2.0/mlflow/experi")
        answer, closed = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b'"error_code": "BAD_REQUEST"' in answer
    assert b"not complete after 0.5 s" in answer
    assert closed - sent >= SOONEST


def test_trickled_headers_do_not_extend_the_deadline(address: tuple[str, int]) -> None:
    """A byte every 0.1 s keeps the connection busy but never finishes the headers."""
    with socket.create_connection(address) as sock:
        sent = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        for byte in b"X-Slow: " + b"a" * 200:
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:  # the server answered (or closed): the trickle is over
                answer, _ = _read_until_closed(sock)
                break
            sock.sendall(bytes([byte]))
        closed = time.monotonic()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert SOONEST <= closed - sent < 200 * 0.1


def test_silent_connection_is_closed_without_an_answer(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        opened = time.monotonic()
        answer, closed = _read_until_closed(sock)
    assert answer == b""
    assert closed - opened >= SOONEST


def test_a_slow_body_is_not_cut_off_by_the_header_deadline(address: tuple[str, int]) -> None:
    """The headers arrived, so the request runs for as long as its body takes."""
    with socket.create_connection(address) as sock:
        started = time.monotonic()
        sock.sendall(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n")
        for _ in range(20):  # 20 bytes over ~2 s, four times the header deadline
            readable, _, _ = select.select([sock], [], [], 0.1)
            assert not readable, sock.recv(1000)
            sock.sendall(b"b")
        sock.settimeout(20)
        answer = sock.recv(65536)
    assert time.monotonic() - started > 4 * DEADLINE
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert answer.endswith(b"\r\n\r\n20")


def test_next_request_on_a_kept_alive_connection_has_the_deadline_too(
    address: tuple[str, int],
) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(20)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first
        sent = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHo")
        answer, closed = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    # Counted from the end of the first response, a moment before `sent`.
    assert closed - sent >= SOONEST


def test_zero_turns_the_deadline_off() -> None:
    with _serve("httptools", seconds=0) as addr, socket.create_connection(addr) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        readable, _, _ = select.select([sock], [], [], 4 * DEADLINE)
        assert not readable  # still open, nothing answered
        sock.sendall(b"\r\n")
        sock.settimeout(20)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
