"""Oversized and stalled requests: a clear 413 and 408, nothing left half-written,
and the server keeps answering."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import ServerProcess, modelyard_server

from modelyard.http.args import MAX_JSON_BODY_BYTES

LOG_BATCH = "/api/2.0/mlflow/runs/log-batch"
HEADER_TIMEOUT = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("limits")
    args = ["--request-body-timeout", "1", "--request-header-timeout", str(HEADER_TIMEOUT)]
    with modelyard_server(data, extra_args=args) as s:
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


def test_slow_headers_are_cut_off_while_other_clients_are_served(server: ServerProcess) -> None:
    """Slow-loris: 30 connections that never finish their headers hold nothing for long."""
    host, port = server.url.removeprefix("http://").split(":")
    before = _run_count(server.url)
    lorises = [socket.create_connection((host, int(port)), timeout=30) for _ in range(30)]
    try:
        opened = time.monotonic()
        for sock in lorises:
            sock.sendall(b"POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        # Meanwhile the server answers everyone else.
        run_id = _run_id(server.url)
        assert httpx.get(f"{server.url}/health").status_code == 200
        # ...while every slow connection is still held open, unanswered.
        assert select.select(lorises, [], [], 0)[0] == []
        answers = []
        for sock in lorises:
            answer = b""
            while chunk := sock.recv(65536):  # until the server closes it
                answer += chunk
            answers.append(answer)
        took = time.monotonic() - opened
    finally:
        for sock in lorises:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[0][:200]
    assert b"not complete after 3 s" in answers[0]
    assert HEADER_TIMEOUT <= took < 30
    # None of the cut-off requests ran (only ours created a run), and the server goes on.
    assert _run_count(server.url) == before + 1
    assert httpx.get(f"{server.url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}).is_success


def _run_count(url: str) -> int:
    r = httpx.post(f"{url}/api/2.0/mlflow/runs/search", json={"experiment_ids": ["0"]})
    return len(r.json().get("runs", []))
