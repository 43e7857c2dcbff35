"""A real HTTP webhook receiver on loopback for tests.

It records every request (path, headers, raw body) and answers from a script
of status codes (then 200). `hold()` makes it keep requests open until
`release()`, to catch a server mid-delivery. `wait_for` polls with a
deadline, so tests never sleep for a fixed time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[int] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self.url = ""

    def answer(self, *codes: int) -> None:
        """Answer the next requests with these codes, then 200."""
        with self._lock:
            self.script = list(codes)

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def record(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            return self.script.pop(0) if self.script else 200

    def matching(self, pred: Callable[[Received], bool]) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if pred(r)]

    def wait_for(
        self, pred: Callable[[Received], bool], count: int = 1, timeout: float = 30
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(pred)
            if len(found) >= count:
                return found
            time.sleep(0.02)  # polling with a deadline
        raise AssertionError(
            f"receiver got {len(self.matching(pred))} matching requests, wanted {count}; "
            f"all: {[r.body[:200] for r in self.requests]}"
        )


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            code = receiver.record(Received(self.path, dict(self.headers.items()), body))
            receiver._released.wait(60)
            payload = b'{"ok": true}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
