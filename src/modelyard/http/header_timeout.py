"""A deadline on request headers: a client that connects and then sends its request line
and headers slowly (or never) is cut off after `--request-header-timeout` seconds.

uvicorn bounds neither: its keep-alive timer runs only between requests and is
cancelled by the first byte of the next one, and a fresh connection has no
timer at all, so a "slow-loris" client holds a connection (a file descriptor,
a parser) for as long as it likes by sending a byte now and then. The body has
its own deadline (`limits.BodyTimeout`), which only starts once the headers are
complete and the request reaches the application.

The mechanism is a thin subclass of uvicorn's HTTP protocol (httptools, which
uvicorn's `auto` picks; h11 too, for completeness). It reads nothing of
the parser's state; it only watches the request cycle uvicorn creates once a
request's headers are complete:

* the deadline is armed when the connection opens and again when a response
  completes and the connection waits for its next request;
* if by then uvicorn has started a new request cycle (the headers arrived), the
  deadline does nothing; a request being handled is never cut off here;
* otherwise the connection is closed: with `408 Request Timeout` when part of a
  request arrived, silently when nothing did (as for an idle keep-alive
  connection, where a 408 could race with the client's next request).

`header_timeout <= 0` turns it off (uvicorn's own behaviour).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any

# httptools comes with uvicorn[standard], our dependency, so it is always there.
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelyard.errors import RequestTimeout


def _timeout_response(seconds: float) -> bytes:
    """The same 408 answer as a stalled body gets (`limits.BodyTimeout`), written raw:
    no request exists yet for the application to answer."""
    error = RequestTimeout(
        f"The request headers did not arrive: they were not complete after {seconds:g} s."
    )
    body = json.dumps(error.to_dict()).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\n"
        b"content-type: application/json\r\n"
        b"connection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


class _HeaderDeadline:
    """The deadline logic, mixed in before one of uvicorn's HTTP protocol classes."""

    # Attributes of uvicorn's protocol classes that this mixin uses.
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._bytes_since_armed = False

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        if self.header_timeout <= 0:
            return
        self._bytes_since_armed = False
        waiting_for = self.cycle  # None, or the request that just completed
        self._header_timer = self.loop.call_later(
            self.header_timeout, self._header_deadline_passed, waiting_for
        )

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline_passed(self, waiting_for: Any) -> None:
        self._header_timer = None
        if self.cycle is not waiting_for or self.transport.is_closing():
            return  # a new request's headers arrived in time
        if self._bytes_since_armed:
            self.transport.write(_timeout_response(self.header_timeout))
        self.transport.close()

    def _waiting_for_request(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    # -- hooks into uvicorn's protocol -----------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        self._bytes_since_armed = True
        super().data_received(data)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        # uvicorn may already have started a pipelined request (its headers are
        # complete); otherwise the connection now waits for the next one.
        if not self.transport.is_closing() and self._waiting_for_request():
            self._arm_header_deadline()
        else:
            self._disarm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)  # type: ignore[misc]


def _h11_protocol() -> type[_HeaderDeadline]:
    """uvicorn's h11 protocol with a header deadline, built at its first use.

    Servers run httptools; importing h11 for them cost ~8 ms of every cold
    start. Kept as the module attribute `H11HeaderTimeoutProtocol` (also
    reachable through the module's `__getattr__`), so it pickles by reference.
    """
    cls = globals().get("H11HeaderTimeoutProtocol")
    if cls is None:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        cls = type(
            "H11HeaderTimeoutProtocol",
            (_HeaderDeadline, H11Protocol),
            {"__doc__": "uvicorn's h11 protocol with a header deadline.", "__module__": __name__},
        )
        globals()["H11HeaderTimeoutProtocol"] = cls
    return cls


def __getattr__(name: str) -> Any:
    if name == "H11HeaderTimeoutProtocol":
        return _h11_protocol()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class HttpToolsHeaderTimeoutProtocol(_HeaderDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline."""


def protocol_with_header_timeout(
    seconds: float, *, parser: str = "httptools"
) -> Callable[..., asyncio.Protocol]:
    """What to pass as uvicorn's `http`: a protocol factory with the deadline set.

    `parser` is `httptools` (what uvicorn's `auto` picks when it is installed,
    as it is with uvicorn[standard]) or `h11`. A partial of a module-level class
    pickles by reference, so it reaches `--workers` processes too.
    """
    cls: type[_HeaderDeadline] = (
        _h11_protocol() if parser == "h11" else HttpToolsHeaderTimeoutProtocol
    )
    return functools.partial(cls, header_timeout=seconds)  # type: ignore[return-value]
