"""One log line per request: method, path, status and time taken.

uvicorn's own access log has no duration and runs before the response body
is sent; people reading a server's terminal expect `GET /path 200 3.1 ms`.
This middleware wraps the whole application (the door included, so refused
requests are logged too) and logs at INFO on the `modelyard.access` logger
once the last byte of the response has been handed to the server.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("modelyard.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            ms = (time.perf_counter() - started) * 1000
            path = scope.get("path", "")
            query = scope.get("query_string", b"")
            if query:
                path = f"{path}?{query.decode('latin-1')}"
            client = scope.get("client")
            who = client[0] if client else "-"
            # status 0: the connection dropped before a response started.
            log.info("%s %s %s %d %.1f ms", who, scope["method"], path, status, ms)
