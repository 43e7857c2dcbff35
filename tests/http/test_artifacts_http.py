"""MLflow's artifact routes over real HTTP against `create_app` served by uvicorn.

Traversal attacks are sent as raw request targets over a socket, because httpx
(like browsers) normalises `..` out of URLs before they leave the client.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from modelyard.store.artifacts.base import (
    MULTIPART_DOWNLOAD_UNSUPPORTED,
    MULTIPART_UPLOAD_UNSUPPORTED,
    TEMP_PREFIX,
)

if TYPE_CHECKING:  # fixtures come from tests/http/conftest.py
    from conftest import InprocServer

ART = "/api/2.0/mlflow-artifacts/artifacts"


def raw_request(
    server: InprocServer,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send `target` exactly as written: no normalisation, no re-encoding."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {server.host}", "Connection: close"]
    lines += [f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def sha(data: bytes) -> str:
    """The `sha256` a listing carries for a file uploaded through the server."""
    return hashlib.sha256(data).hexdigest()


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(artifacts_server: InprocServer) -> Iterator[httpx.Client]:
    with artifacts_server.client() as c:
        yield c


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body


# -- upload / download -------------------------------------------------------------------
def test_50mb_streamed_upload_and_download_are_byte_exact(
    artifacts_server: InprocServer, client: httpx.Client
) -> None:
    block = os.urandom(1 << 20)
    sent = hashlib.sha256()

    def body() -> Iterator[bytes]:
        for i in range(50):
            chunk = bytes([i]) + block[1:]
            sent.update(chunk)
            yield chunk

    path = f"{unique()}/artifacts/big.bin"
    put = client.put(f"{ART}/{path}", content=body())
    assert (put.status_code, put.json()) == (200, {})
    assert put.headers["content-type"] == "application/json"
    assert (artifacts_server.artifacts_root / path).stat().st_size == 50 << 20

    received = hashlib.sha256()
    with client.stream("GET", f"{ART}/{path}") as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(50 << 20)
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"] == "attachment; filename=big.bin"
        assert response.headers["x-content-type-options"] == "nosniff"
        for chunk in response.iter_bytes():
            received.update(chunk)
    assert received.hexdigest() == sent.hexdigest()


def test_small_file_download_headers_match_mlflow(client: httpx.Client) -> None:
    base = unique()
    for name, data in [("metrics.txt", b"a 1\n"), ("MLmodel", b"flavors: {}\n")]:
        assert client.put(f"{ART}/{base}/{name}", content=data).status_code == 200
        response = client.get(f"{ART}/{base}/{name}")
        assert response.status_code == 200
        assert response.content == data
        # MLflow's text list wins over the platform table, and no charset is added.
        assert response.headers["content-type"] == "text/plain"
        assert response.headers["content-length"] == str(len(data))
        assert response.headers["content-disposition"] == f"attachment; filename={name}"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["etag"] and response.headers["last-modified"]

    client.put(f"{ART}/{base}/my model.json", content=b"{}")
    response = client.get(f"{ART}/{base}/my model.json")
    assert response.headers["content-disposition"] == 'attachment; filename="my model.json"'
    client.put(f"{ART}/{base}/モデル.png", content=b"\x89PNG")
    response = client.get(f"{ART}/{base}/モデル.png")
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == (
        "attachment; filename=.png; filename*=UTF-8''%E3%83%A2%E3%83%87%E3%83%AB.png"
    )


def test_range_requests_are_honoured(client: httpx.Client) -> None:
    path = f"{unique()}/r.bin"
    client.put(f"{ART}/{path}", content=bytes(range(256)) * 4)
    response = client.get(f"{ART}/{path}", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == bytes(range(10, 20))


def test_names_too_long_for_the_disk_are_400_not_500(client: httpx.Client) -> None:
    """The fuzz run's one 5xx: a 300-byte file name reached open() and raised ENAMETOOLONG."""
    path = f"{unique()}/" + "e\u0301" * 100
    for method in ("GET", "PUT", "DELETE"):
        r = client.request(method, f"{ART}/{path}", content=b"x" if method == "PUT" else None)
        assert r.status_code == 400, (method, r.text)
        assert error_of(r)["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "at most 255 bytes per file or directory name" in error_of(r)["message"]
    r = client.get(ART, params={"path": path})
    assert r.status_code == 400, r.text


def test_missing_file_and_directory_downloads(client: httpx.Client) -> None:
    base = unique()
    response = client.get(f"{ART}/{base}/nope.txt")
    assert response.status_code == 404
    assert error_of(response) == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": f"No such artifact: '{base}/nope.txt'",
    }
    client.put(f"{ART}/{base}/d/f.txt", content=b"x")
    response = client.get(f"{ART}/{base}/d")
    assert response.status_code == 400
    assert error_of(response)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "directory" in error_of(response)["message"]


def test_ajax_family_serves_the_same_routes(client: httpx.Client) -> None:
    path = f"{unique()}/a.txt"
    assert client.put(f"/ajax-api/2.0/mlflow-artifacts/artifacts/{path}", content=b"x").json() == {}
    assert client.get(f"{ART}/{path}").content == b"x"
    listing = client.get("/ajax-api/2.0/mlflow-artifacts/artifacts", params={"path": path[:-6]})
    assert listing.json() == {
        "files": [{"path": "a.txt", "is_dir": False, "file_size": 1, "sha256": sha(b"x")}]
    }


# -- listing and deleting ---------------------------------------------------------------------
def test_listing_shape_matches_mlflow(client: httpx.Client) -> None:
    base = unique()
    client.put(f"{ART}/{base}/model/MLmodel", content=b"m")
    client.put(f"{ART}/{base}/b.txt", content=b"bb")
    response = client.get(ART, params={"path": base})
    assert response.status_code == 200
    assert response.json() == {
        "files": [
            {"path": "b.txt", "is_dir": False, "file_size": 2, "sha256": sha(b"bb")},
            {"path": "model", "is_dir": True},
        ]
    }
    # Empty, missing and file paths all answer MLflow's empty message: {}.
    assert client.get(ART, params={"path": f"{base}/missing"}).json() == {}
    assert client.get(ART, params={"path": f"{base}/b.txt"}).json() == {}
    root = client.get(ART).json()
    assert {"path": base, "is_dir": True} in root["files"]


def test_delete_file_then_directory(client: httpx.Client) -> None:
    base = unique()
    client.put(f"{ART}/{base}/d/1.txt", content=b"1")
    client.put(f"{ART}/{base}/d/e/2.txt", content=b"2")
    client.put(f"{ART}/{base}/keep.txt", content=b"k")
    response = client.delete(f"{ART}/{base}/d/1.txt")
    assert (response.status_code, response.json()) == (200, {})
    assert client.delete(f"{ART}/{base}/d/").json() == {}  # MLflow's client adds the slash
    assert client.get(ART, params={"path": base}).json() == {
        "files": [{"path": "keep.txt", "is_dir": False, "file_size": 1, "sha256": sha(b"k")}]
    }
    assert client.delete(f"{ART}/{base}/never-was").status_code == 200


# -- multipart: a local destination answers as MLflow's does --------------------------------------
def test_multipart_upload_is_not_supported_locally(client: httpx.Client) -> None:
    for op in ("create", "complete", "abort"):
        body: dict[str, Any] = {"path": "/home/me/model.bin", "upload_id": "u", "num_parts": 2}
        body["parts"] = [{"part_number": 1, "etag": "e", "url": "http://x"}]
        response = client.post(f"/api/2.0/mlflow-artifacts/mpu/{op}/1/r/artifacts", json=body)
        assert response.status_code == 501, response.text
        assert error_of(response) == {
            "error_code": "NOT_IMPLEMENTED",
            "message": MULTIPART_UPLOAD_UNSUPPORTED,
        }
    # The request is validated first, as MLflow does.
    response = client.post("/api/2.0/mlflow-artifacts/mpu/create/1/r", json={"num_parts": 1})
    assert response.status_code == 400
    assert "'path'" in error_of(response)["message"]
    response = client.get("/api/2.0/mlflow-artifacts/presigned/1/r/model.bin")
    assert response.status_code == 501
    assert error_of(response)["message"] == MULTIPART_DOWNLOAD_UNSUPPORTED


# -- path traversal over raw HTTP ---------------------------------------------------------------
TRAVERSALS = [
    "../../../../etc/passwd",
    "../modelyard.db",
    "a/../../modelyard.db",
    "%2e%2e/modelyard.db",
    "%2E%2E%2Fmodelyard.db",
    "..%2fmodelyard.db",
    "%252e%252e%252fmodelyard.db",
    "%25252e%25252e/modelyard.db",
    "..%5cmodelyard.db",
    "a%5c..%5c..%5cmodelyard.db",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "C:%5cWindows%5cwin.ini",
    "ok%00.txt",
    "..",
]


@pytest.mark.parametrize("attack", TRAVERSALS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_traversal_in_the_url_is_refused(
    artifacts_server: InprocServer, method: str, attack: str
) -> None:
    db = artifacts_server.artifacts_root.parent / "modelyard.db"
    before = db.stat().st_size
    status, headers, body = raw_request(artifacts_server, method, f"{ART}/{attack}", b"pwned")
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Invalid artifact path" in error["message"]
    assert db.exists() and db.stat().st_size >= before


@pytest.mark.parametrize(
    "target",
    [
        f"{ART}?path=..%2F..",
        f"{ART}?path=%252e%252e",
        f"{ART}?path=%2Fetc",
        "/api/2.0/mlflow/artifacts/list?run_id=RUN&path=..%2F..%2F..",
        "/ajax-api/2.0/mlflow/artifacts/list?run_id=RUN&path=..",
        "/get-artifact?run_id=RUN&path=..%2F..%2F..%2Fmodelyard.db",
        "/get-artifact?run_uuid=RUN&path=%252e%252e%252f..%252fmodelyard.db",
    ],
)
def test_traversal_in_query_strings_is_refused(artifacts_server: InprocServer, target: str) -> None:
    with artifacts_server.client() as c:
        run_id = create_run(c)["run_id"]
    status, _, body = raw_request(artifacts_server, "GET", target.replace("RUN", run_id))
    assert status == 400, body
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_ui_upload_traversal_is_refused(artifacts_server: InprocServer) -> None:
    with artifacts_server.client() as c:
        run_id = create_run(c)["run_id"]
    target = f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run_id}&path=..%2F..%2F..%2Fx.txt"
    status, _, body = raw_request(artifacts_server, "POST", target, b"data")
    assert status == 400, body
    assert not (artifacts_server.artifacts_root / "x.txt").exists()


# -- a client that vanishes mid-upload leaves nothing -------------------------------------------
def test_client_disconnect_mid_upload_leaves_no_partial_file(
    artifacts_server: InprocServer, client: httpx.Client
) -> None:
    base = unique()
    client.put(f"{ART}/{base}/model.bin", content=b"previous version")
    path = f"{ART}/{base}/model.bin"
    headers = f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {10 << 20}\r\n\r\n".encode()
    artifacts_server.forget_done()
    with socket.create_connection((artifacts_server.host, artifacts_server.port)) as sock:
        sock.sendall(headers)
        sock.sendall(os.urandom(3 << 20))  # 3 MiB of a promised 10 MiB, then gone
    artifacts_server.wait_done("PUT", path)

    folder = artifacts_server.artifacts_root / base
    assert sorted(p.name for p in folder.iterdir()) == ["model.bin"]
    assert not [p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert client.get(path).content == b"previous version"


# -- serve-artifacts disabled --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "target", "rule"),
    [
        ("PUT", f"{ART}/a/b.txt", f"{ART}/<path:artifact_path>"),
        ("GET", f"{ART}/a/b.txt", f"{ART}/<path:artifact_path>"),
        ("DELETE", f"{ART}/a", f"{ART}/<path:artifact_path>"),
        ("GET", f"{ART}?path=a", ART),
        (
            "POST",
            "/ajax-api/2.0/mlflow-artifacts/mpu/create/a",
            "/ajax-api/2.0/mlflow-artifacts/mpu/create/<path:artifact_path>",
        ),
    ],
)
def test_proxied_routes_answer_503_when_not_serving(
    no_serve_artifacts_server: InprocServer, method: str, target: str, rule: str
) -> None:
    status, headers, body = raw_request(no_serve_artifacts_server, method, target, b"{}")
    assert status == 503
    assert headers["content-type"].startswith("text/plain")
    assert body.decode().startswith(
        f"Endpoint: {rule} disabled due to the mlflow server running with `--no-serve-artifacts`."
    )


# -- run-scoped routes ----------------------------------------------------------------------------
def create_run(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()["run"]["info"]
    return info


def test_run_artifacts_list_and_get_through_the_proxied_root(client: httpx.Client) -> None:
    info = create_run(client)
    run_id, root_uri = info["run_id"], info["artifact_uri"]
    assert root_uri == f"mlflow-artifacts:/0/{run_id}/artifacts"
    listing = client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
    assert listing.json() == {"root_uri": root_uri}

    # What `mlflow.log_artifact` does against a proxying server.
    client.put(f"{ART}/0/{run_id}/artifacts/model/MLmodel", content=b"flavors: {}\n")
    client.put(f"{ART}/0/{run_id}/artifacts/notes.txt", content=b"hello")
    listing = client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
    assert listing.json() == {
        "root_uri": root_uri,
        "files": [
            {"path": "model", "is_dir": True},
            {"path": "notes.txt", "is_dir": False, "file_size": 5, "sha256": sha(b"hello")},
        ],
    }
    listing = client.get(
        "/ajax-api/2.0/mlflow/artifacts/list", params={"run_uuid": run_id, "path": "model"}
    )
    assert listing.json()["files"] == [
        {"path": "model/MLmodel", "is_dir": False, "file_size": 12, "sha256": sha(b"flavors: {}\n")}
    ]

    response = client.get("/get-artifact", params={"run_id": run_id, "path": "model/MLmodel"})
    assert response.status_code == 200
    assert response.content == b"flavors: {}\n"
    assert response.headers["content-disposition"] == "attachment; filename=MLmodel"
    missing = client.get("/get-artifact", params={"run_id": run_id, "path": "nope.txt"})
    assert missing.status_code == 404
    assert error_of(missing)["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_run_routes_with_unknown_run_or_missing_parameters(client: httpx.Client) -> None:
    listing = client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": "f" * 32})
    assert listing.status_code == 404
    assert error_of(listing)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert client.get("/api/2.0/mlflow/artifacts/list").status_code == 400
    no_path = client.get("/get-artifact", params={"run_id": "f" * 32})
    assert no_path.status_code == 400


def test_ui_upload_artifact_follows_mlflow_rules(client: httpx.Client) -> None:
    run_id = create_run(client)["run_id"]
    url = "/ajax-api/2.0/mlflow/upload-artifact"
    response = client.post(url, params={"run_uuid": run_id, "path": "dir/eval.json"}, content=b"{}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b""
    got = client.get("/get-artifact", params={"run_id": run_id, "path": "dir/eval.json"})
    assert got.content == b"{}"

    def message(resp: httpx.Response) -> str:
        assert resp.status_code == 400, resp.text
        text: str = error_of(resp)["message"]
        return text

    assert message(client.post(url, params={"path": "x"}, content=b"1")) == (
        "Request must specify run_uuid."
    )
    assert message(client.post(url, params={"run_uuid": run_id}, content=b"1")) == (
        "Request must specify path."
    )
    assert message(client.post(url, params={"run_uuid": run_id, "path": "e"}, content=b"")) == (
        "Request must specify data."
    )
    too_big = b"x" * (10 * 1024 * 1024 + 1)
    assert message(
        client.post(url, params={"run_uuid": run_id, "path": "big"}, content=too_big)
    ) == ("Artifact size is too large. Max size is 10MB.")

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield from [b"x" * (1 << 20)] * 11

    resp = client.post(url, params={"run_uuid": run_id, "path": "big"}, content=chunked())
    assert message(resp) == "Artifact size is too large. Max size is 10MB."
    listing = client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
    assert [f["path"] for f in listing.json()["files"]] == ["dir"]
    unknown = client.post(url, params={"run_uuid": "f" * 32, "path": "a"}, content=b"1")
    assert unknown.status_code == 404


def test_no_serve_mode_lists_and_reads_file_uri_roots(
    no_serve_artifacts_server: InprocServer,
) -> None:
    with no_serve_artifacts_server.client() as c:
        info = create_run(c)
        run_id, root_uri = info["run_id"], info["artifact_uri"]
        assert root_uri.startswith("file://")
        # The client writes there itself in this mode.
        folder = no_serve_artifacts_server.artifacts_root / "0" / run_id / "artifacts"
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "a.csv").write_bytes(b"x,y\n")
        listing = c.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
        assert listing.json() == {"root_uri": root_uri, "files": [{"path": "sub", "is_dir": True}]}
        got = c.get("/get-artifact", params={"run_id": run_id, "path": "sub/a.csv"})
        assert (got.status_code, got.content) == (200, b"x,y\n")
        assert got.headers["content-type"] == "text/plain"


def test_a_crafted_experiment_location_cannot_escape_the_destination(
    artifacts_server: InprocServer, client: httpx.Client
) -> None:
    name = unique("escape")
    created = client.post(
        "/api/2.0/mlflow/experiments/create",
        json={"name": name, "artifact_location": "mlflow-artifacts:/../../.."},
    )
    if created.status_code != 200:  # refused at creation is fine too
        assert created.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        return
    exp_id = created.json()["experiment_id"]
    run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": exp_id})
    run_id = run.json()["run"]["info"]["run_id"]
    listing = client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id})
    assert listing.status_code == 400
    assert "'..' segments" in listing.json()["message"]
    got = client.get("/get-artifact", params={"run_id": run_id, "path": "modelyard.db"})
    assert got.status_code == 400
