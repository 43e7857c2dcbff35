"""Fixtures for the light client and its CLI: servers to talk to, and files to send.

* `live_server` (tests/conftest.py): a `modelyard server` process on SQLite and
  on PostgreSQL, once per module;
* `mlflow_server`: a stock `mlflow server` (with proxied artifacts), started once
  per session because it takes several seconds to start; for the calls in
  MLflow's namespace (experiments, runs, params, metrics, artifacts);
* `inproc_app` / `InProcessTransport`: the real app, `create_app(settings)`,
  called in-process through httpx (the client's injectable transport);
* `model_dir`: a plain `output_model` folder, as the seed's trainer writes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from asgi_app import starlette_app
from servers import free_port, wait_healthy

from modelyard.app import create_app
from modelyard.cli import main
from modelyard.client import Client, fluent, set_tracking_uri
from modelyard.settings import Settings

MLFLOW = str(Path(sys.executable).with_name("mlflow"))


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A stock `mlflow server` serving artifacts, for the whole session."""
    data = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log_path = data / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                MLFLOW,
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backend-store-uri",
                f"sqlite:///{data / 'm.db'}",
                "--artifacts-destination",
                str(data / "a"),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data,
            start_new_session=True,  # its own process group: we stop it and its workers
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log_path, timeout=180)  # first start migrates its database
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class InProcessTransport(httpx.BaseTransport):
    """A synchronous httpx transport that calls an ASGI app in this process.

    httpx's own ASGITransport is async-only and the client is synchronous, so
    each request runs on an event loop in a blocking portal thread. Request
    bodies (streamed uploads included) are read first; answers are buffered.
    Safe to use from several threads (the metric batcher's among them).
    """

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()  # a sync client's body (streamed uploads too)
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )

        async def call() -> tuple[int, httpx.Headers, bytes]:
            response = await self._asgi.handle_async_request(forwarded)
            content = await response.aread()
            return response.status_code, response.headers, content

        status, headers, content = self._portal.call(call)
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        self._portal_cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def inproc_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real app on SQLite (artifacts served), created in this process."""
    data = tmp_path_factory.mktemp("inproc")
    settings = Settings(
        backend_store_uri=f"sqlite:///{data / 'modelyard.db'}",
        artifacts_destination=str(data / "artifacts"),
    )
    app = create_app(settings)
    yield app
    starlette_app(app).state.services.db.close()


@pytest.fixture
def inproc_client(inproc_app: Any) -> Iterator[Client]:
    transport = InProcessTransport(inproc_app)
    with Client("http://modelyard.test", transport=transport) as client:
        yield client
    transport.close()


@pytest.fixture
def fluent_at() -> Iterator[Any]:
    """Point the fluent API at a server for one test; end its runs afterwards."""

    def point(url: str) -> None:
        set_tracking_uri(url)

    yield point
    while fluent.active_run() is not None:
        fluent.end_run("KILLED")
    set_tracking_uri(None)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """`output_model/`: a weights file spanning several upload chunks, a subfolder,
    an empty file."""
    root = tmp_path / "output_model"
    (root / "config").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(2 * 1024 * 1024 + 12345))
    (root / "config" / "params.json").write_text('{"layers": [784, 128, 10]}\n')
    (root / "README.txt").write_text("mnist model\n")
    (root / "config" / "empty.marker").write_bytes(b"")
    return root


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `modelyard ARGS` in-process; answer (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse: usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run
