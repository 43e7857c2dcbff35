"""Oversized and stalled requests: a clear 413 and 408, nothing left half-written,
and the server keeps answering."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import ServerProcess, modelyard_server

from modelyard.http.args import MAX_JSON_BODY_BYTES

LOG_BATCH = "/api/2.0/mlflow/runs/log-batch"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("limits")
    with modelyard_server(data, extra_args=["--request-body-timeout", "1"]) as s:
        yield s


def _run_id(url: str) -> str:
    r = httpx.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})
    return str(r.json()["run"]["info"]["run_id"])


def test_json_body_over_the_limit_is_413_without_being_read(server: ServerProcess) -> None:
    run_id = _run_id(server.url)
    big = {"run_id": run_id, "tags": [{"key": "k", "value": "x" * (MAX_JSON_BODY_BYTES + 1)}]}
    r = httpx.post(f"{server.url}{LOG_BATCH}", json=big, timeout=60)
    assert r.status_code == 413
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "larger than 16 MB" in r.json()["message"]
    # Nothing of it was applied, and the server goes on.
    run = httpx.get(f"{server.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()
    assert "k" not in {t["key"] for t in run["run"]["data"].get("tags", [])}


def test_chunked_body_over_the_limit_is_413(server: ServerProcess) -> None:
    """No Content-Length to trust: the limit holds while the body streams in."""

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(MAX_JSON_BODY_BYTES // (1 << 20) + 1):
            yield b"x" * (1 << 20)
        yield b'"}'

    r = httpx.post(f"{server.url}/api/2.0/mlflow/experiments/create", content=chunks(), timeout=60)
    assert r.status_code == 413


def _raw_request(url: str, head: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                break
        return answer


def test_stalled_json_body_is_408(server: ServerProcess) -> None:
    started = time.monotonic()
    answer = _raw_request(
        server.url,
        b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: x\r\n"
        b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name": ',
    )
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"nothing was received for 1 s" in answer
    assert time.monotonic() - started < 25


def test_stalled_upload_is_408_and_leaves_no_file(server: ServerProcess) -> None:
    path = "stalled/model.bin"
    answer = _raw_request(
        server.url,
        f"PUT /api/2.0/mlflow-artifacts/artifacts/{path} HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 1000000\r\n\r\n".encode()
        + b"a" * 1000,
    )
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    listing = httpx.get(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": "stalled"}
    )
    assert listing.json() == {}
    leftovers = [p for p in Path(server.data_dir, "artifacts").rglob("*") if p.is_file()]
    assert leftovers == []
    assert httpx.get(f"{server.url}/health").status_code == 200
