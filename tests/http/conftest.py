"""HTTP-layer fixtures: the real app (`create_app`) served by uvicorn in a thread.

In-thread rather than a subprocess so tests can see when the server has
*finished* handling a request (e.g. cleaned up after a client vanished
mid-upload) by waiting on an event, never by sleeping. The socket is bound and
listening before the server thread starts, so there is no readiness to poll.

Fixture names are specific (`artifacts_server`, ...); add others below with
names of their own.
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.app import create_app
from modelyard.settings import Settings


class _CompletionRecorder:
    """ASGI wrapper that reports each HTTP request once the app is done with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.done: queue.Queue[tuple[str, str]] = queue.Queue()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                self.done.put((scope["method"], scope["path"]))


@dataclass
class InprocServer:
    url: str
    host: str
    port: int
    settings: Settings
    recorder: _CompletionRecorder

    @property
    def artifacts_root(self) -> Path:
        return Path(self.settings.artifacts_root)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def forget_done(self) -> None:
        """Drop completions recorded so far, so `wait_done` sees only later requests."""
        while not self.recorder.done.empty():
            self.recorder.done.get_nowait()

    def wait_done(self, method: str, path: str, timeout: float = 30) -> None:
        """Block until the server has finished a request for (method, path)."""
        while True:
            got = self.recorder.done.get(timeout=timeout)
            if got == (method, path):
                return


@contextmanager
def inproc_server(settings: Settings) -> Iterator[InprocServer]:
    recorder = _CompletionRecorder(create_app(settings))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    host, port = sock.getsockname()
    config = uvicorn.Config(recorder, log_level="warning", lifespan="on", http="httptools")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield InprocServer(f"http://{host}:{port}", host, port, settings, recorder)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _settings(data_dir: Path, *, serve: bool) -> Settings:
    return Settings(
        backend_store_uri=f"sqlite:///{data_dir / 'modelyard.db'}",
        artifacts_destination=str(data_dir / "artifacts"),
        serve_artifacts=serve,
    )


@pytest.fixture(scope="module")
def artifacts_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InprocServer]:
    """The app as `modelyard server` runs it by default: proxying artifacts."""
    with inproc_server(_settings(tmp_path_factory.mktemp("serve"), serve=True)) as server:
        yield server


@pytest.fixture(scope="module")
def no_serve_artifacts_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[InprocServer]:
    """The app with --no-serve-artifacts: runs get file:// artifact locations."""
    with inproc_server(_settings(tmp_path_factory.mktemp("noserve"), serve=False)) as server:
        yield server
