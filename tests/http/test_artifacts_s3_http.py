"""MLflow's artifact routes served by a `modelyard server` process whose destination is S3.

The server is configured the way an existing MLflow deployment is: the
destination on the command line, the endpoint in MLFLOW_S3_ENDPOINT_URL and the
credentials in the standard AWS variables. The stock mlflow client drives the
multipart endpoints (`MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD`), sending parts
straight to S3 through presigned URLs.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from servers import ServerProcess, modelyard_server

from modelyard.store.artifacts.s3 import MIN_PART_SIZE, S3ArtifactStore

if TYPE_CHECKING:
    from s3servers import S3Target

ART = "/api/2.0/mlflow-artifacts/artifacts"
MPU = "/api/2.0/mlflow-artifacts/mpu"


@pytest.fixture(scope="module")
def s3_prefix(s3_target: S3Target) -> str:
    return s3_target.new_prefix()


@pytest.fixture(scope="module")
def s3_server(
    s3_target: S3Target, s3_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = s3_target.env()
    # MLflow's variable, so an `mlflow server` deployment's environment carries over.
    env["MLFLOW_S3_ENDPOINT_URL"] = env.pop("AWS_ENDPOINT_URL")
    with modelyard_server(
        tmp_path_factory.mktemp("s3-server"),
        extra_args=["--artifacts-destination", s3_target.uri(s3_prefix)],
        env=env,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def destination(s3_target: S3Target, s3_prefix: str) -> S3ArtifactStore:
    """The server's destination, seen directly (to check what reached S3)."""
    return s3_target.store(s3_prefix)


@pytest.fixture
def client(s3_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=s3_server.url, timeout=120) as c:
        yield c


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_large_streamed_upload_and_download_are_byte_exact_in_bounded_memory(
    s3_server: ServerProcess, client: httpx.Client, destination: S3ArtifactStore
) -> None:
    size_mib = 96
    block = os.urandom(1 << 20)
    sent = hashlib.sha256()

    def body() -> Iterator[bytes]:
        for i in range(size_mib):
            chunk = bytes([i]) + block[1:]
            sent.update(chunk)
            yield chunk

    path = f"{unique()}/artifacts/model.bin"
    # Warm up: the first S3 request loads boto3 and its service models (~40 MiB).
    client.put(f"{ART}/{unique()}/warm.txt", content=b"x")
    client.get(ART, params={"path": ""})
    before = _peak_rss(s3_server.proc.pid)
    answer = client.put(f"{ART}/{path}", content=body())
    assert answer.status_code == 200, answer.text
    # Multipart with 8 MiB parts: 12 of them; the server held at most a part or two.
    head = destination.client.head_object(Bucket=destination.bucket, Key=destination._key(path))
    assert head["ContentLength"] == size_mib << 20
    assert head["ETag"].strip('"').endswith(f"-{size_mib // 8}")
    received = hashlib.sha256()
    with client.stream("GET", f"{ART}/{path}") as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(size_mib << 20)
        for chunk in response.iter_bytes():
            received.update(chunk)
    assert received.hexdigest() == sent.hexdigest()
    growth = _peak_rss(s3_server.proc.pid) - before
    assert growth < 48 << 20, f"server peak memory grew by {growth >> 20} MiB"
    assert destination.incomplete_uploads() == []


def _until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # polling a condition, not assuming a duration


def test_client_vanishing_mid_upload_aborts_the_multipart_upload(
    s3_server: ServerProcess, destination: S3ArtifactStore
) -> None:
    path = f"{unique()}/artifacts/cut.bin"
    host, port = s3_server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    try:
        head = f"PUT {ART}/{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {40 << 20}\r\n\r\n"
        sock.sendall(head.encode())
        for _ in range(12):  # 12 of the 40 MiB announced: past the first 8 MiB part
            sock.sendall(os.urandom(1 << 20))
        _until(lambda: destination.incomplete_uploads() == [path], "the multipart upload")
    finally:
        sock.close()
    _until(lambda: destination.incomplete_uploads() == [], "the abort")
    assert not destination.exists(path)


A_SHA = hashlib.sha256(b"a").hexdigest()


def test_list_download_and_delete_a_tree(client: httpx.Client) -> None:
    base = f"{unique()}/artifacts"
    for rel, data in [("a.txt", b"a"), ("model/MLmodel", b"flavors: {}\n"), ("model/w.bin", b"ww")]:
        assert client.put(f"{ART}/{base}/{rel}", content=data).status_code == 200
    listing = client.get(ART, params={"path": base}).json()
    assert listing == {
        "files": [
            {"path": "a.txt", "is_dir": False, "file_size": 1, "sha256": A_SHA},
            {"path": "model", "is_dir": True},
        ]
    }
    got = client.get(f"{ART}/{base}/model/MLmodel")
    assert got.content == b"flavors: {}\n" and got.headers["content-type"] == "text/plain"
    assert client.delete(f"{ART}/{base}/model").status_code == 200
    assert client.get(ART, params={"path": base}).json() == {
        "files": [{"path": "a.txt", "is_dir": False, "file_size": 1, "sha256": A_SHA}]
    }
    missing = client.get(f"{ART}/{base}/model/MLmodel")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert client.get(ART, params={"path": "nothing-here"}).json() == {}


def test_traversal_is_refused_before_s3(client: httpx.Client) -> None:
    answer = client.put(f"{ART}/a/%252e%252e/x.txt", content=b"x")
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_mpu_create_part_and_abort_leave_nothing(
    client: httpx.Client, destination: S3ArtifactStore
) -> None:
    base = f"{unique()}/artifacts"
    created = client.post(f"{MPU}/create/{base}", json={"path": "/tmp/w.bin", "num_parts": 2})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["upload_id"] and [c["part_number"] for c in body["credentials"]] == [1, 2]
    part = httpx.put(body["credentials"][0]["url"], content=b"x" * 1000)
    assert part.status_code == 200
    assert destination.incomplete_uploads() == [f"{base}/w.bin"]
    aborted = client.post(
        f"{MPU}/abort/{base}", json={"path": "/tmp/w.bin", "upload_id": body["upload_id"]}
    )
    assert aborted.status_code == 200 and aborted.json() == {}
    assert destination.incomplete_uploads() == []
    assert client.get(ART, params={"path": base}).json() == {}


def test_presigned_download_points_at_s3(client: httpx.Client, s3_target: S3Target) -> None:
    path = f"{unique()}/artifacts/r.json"
    client.put(f"{ART}/{path}", content=b"{}")
    presigned = client.get(f"/api/2.0/mlflow-artifacts/presigned/{path}")
    assert presigned.status_code == 200, presigned.text
    body = presigned.json()
    assert body["url"].startswith(s3_target.endpoint_url) and body["file_size"] == 2
    assert httpx.get(body["url"]).content == b"{}"


# -- the stock mlflow client ---------------------------------------------------------------------
@pytest.fixture
def mlflow_client(s3_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", s3_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(s3_server.url)
    yield mlflow
    while mlflow.active_run() is not None:
        mlflow.end_run()


def test_stock_client_multipart_upload_goes_straight_to_s3(
    mlflow_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    destination: S3ArtifactStore,
) -> None:
    # The client's knobs (mlflow/environment_variables.py): multipart through
    # the proxy, above 5 MiB, in S3's smallest parts.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MIN_PART_SIZE))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(MIN_PART_SIZE))
    data = os.urandom(MIN_PART_SIZE * 2 + 4321)
    local = tmp_path / "weights.bin"
    local.write_bytes(data)
    mlflow = mlflow_client
    mlflow.set_experiment(unique("exp"))
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(local), artifact_path="model")
        mlflow.log_text("small", "notes.txt")
    uri = run.info.artifact_uri
    assert uri.startswith("mlflow-artifacts:/")
    rel = uri.split(":", 1)[1].lstrip("/") + "/model/weights.bin"
    head = destination.client.head_object(Bucket=destination.bucket, Key=destination._key(rel))
    assert head["ETag"].strip('"').endswith("-3"), "not a 3-part multipart object"
    listed = {f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert listed == {"model", "notes.txt"}
    back = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="model/weights.bin", dst_path=str(tmp_path / "d")
    )
    assert Path(back).read_bytes() == data
    assert destination.incomplete_uploads() == []


def test_stock_client_without_multipart_streams_through_the_server(
    mlflow_client: Any, tmp_path: Path
) -> None:
    mlflow = mlflow_client
    mlflow.set_experiment(unique("exp"))
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "sub" / "b.bin").write_bytes(os.urandom(3 << 20))
    (tmp_path / "out" / "a.txt").write_text("a")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(tmp_path / "out"), artifact_path="out")
    back = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="out", dst_path=str(tmp_path / "back")
    )
    assert (Path(back) / "sub" / "b.bin").read_bytes() == (
        tmp_path / "out" / "sub" / "b.bin"
    ).read_bytes()
    assert (Path(back) / "a.txt").read_text() == "a"


# -- --no-serve-artifacts with an s3:// default root: clients write to S3, the server reads ---
def test_no_serve_mode_reads_runs_whose_artifacts_are_in_s3(
    s3_target: S3Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    root = s3_target.uri(s3_target.new_prefix())
    env = s3_target.env()
    endpoint = env.pop("AWS_ENDPOINT_URL")
    args = ["--no-serve-artifacts", "--default-artifact-root", root, "--s3-endpoint-url", endpoint]
    with modelyard_server(tmp_path / "server", extra_args=args, env=env) as server:
        for name, value in {**env, "MLFLOW_S3_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        mlflow.set_tracking_uri(server.url)
        mlflow.set_experiment("direct-to-s3")
        with mlflow.start_run() as run:
            mlflow.log_text("hello from the client", "notes/hello.txt")
        assert run.info.artifact_uri.startswith(root + "/")
        with httpx.Client(base_url=server.url) as http:
            listed = http.get(
                "/api/2.0/mlflow/artifacts/list",
                params={"run_id": run.info.run_id, "path": "notes"},
            ).json()
            assert listed["root_uri"] == run.info.artifact_uri
            assert listed["files"] == [
                {"path": "notes/hello.txt", "is_dir": False, "file_size": 21}
            ]
            got = http.get(
                "/get-artifact", params={"run_id": run.info.run_id, "path": "notes/hello.txt"}
            )
            assert got.status_code == 200 and got.content == b"hello from the client"
