"""Content hashes and frozen manifests over real HTTP (`create_app` served by uvicorn).

Hashes: every upload through the server gets its SHA-256 recorded and sent back
as `ETag`/`Repr-Digest` on downloads (small, large and ranged) and as `sha256`
in listings. Manifests: registering a version freezes its files; the server
then refuses to overwrite or delete them, and `verify` finds files changed,
removed or added behind its back (here: edited on disk directly). The light
client refuses a download whose bytes differ from the recorded hash.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from modelyard.client import Client
from modelyard.client.digests import DigestMismatch
from modelyard.integrity_entities import ManifestFile, manifest_digest

if TYPE_CHECKING:  # fixtures come from tests/http/conftest.py
    from conftest import InprocServer

ART = "/api/2.0/mlflow-artifacts/artifacts"
API = "/api/2.0/mlflow"
MY = "/api/modelyard/v1"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def repr_digest(data: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


@pytest.fixture
def client(artifacts_server: InprocServer) -> Iterator[httpx.Client]:
    with artifacts_server.client() as c:
        yield c


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def new_run(client: httpx.Client) -> tuple[str, str]:
    """(run_id, the run's artifact folder under the proxied destination)."""
    info = ok(client.post(f"{API}/runs/create", json={"experiment_id": "0"}))["run"]["info"]
    return info["run_id"], f"0/{info['run_id']}/artifacts"


def register(client: httpx.Client, run_id: str, path: str = "model") -> tuple[str, str]:
    name = f"m-{uuid.uuid4().hex[:8]}"
    ok(client.post(f"{API}/registered-models/create", json={"name": name}))
    mv = ok(
        client.post(
            f"{API}/model-versions/create",
            json={"name": name, "source": f"runs:/{run_id}/{path}", "run_id": run_id},
        )
    )["model_version"]
    return name, mv["version"]


MODEL_FILES = {"MLmodel": b"flavors: {}\n", "model.pkl": os.urandom(300_000), "sub/w.bin": b"w"}


def log_model(client: httpx.Client, folder: str) -> None:
    for rel, data in MODEL_FILES.items():
        ok(client.put(f"{ART}/{folder}/model/{rel}", content=data))


# -- hashes on downloads and listings ------------------------------------------------------
@pytest.mark.parametrize("size", [5, 400_000], ids=["read-eagerly", "sent-from-disk"])
def test_downloads_carry_the_recorded_hash(client: httpx.Client, size: int) -> None:
    data = os.urandom(size)
    path = f"h-{uuid.uuid4().hex[:8]}/blob.bin"
    ok(client.put(f"{ART}/{path}", content=data))
    got = client.get(f"{ART}/{path}")
    assert got.content == data
    assert got.headers["etag"] == f'"{sha(data)}"'
    assert got.headers["repr-digest"] == repr_digest(data)
    # A range is part of the same representation: same Repr-Digest.
    part = client.get(f"{ART}/{path}", headers={"range": "bytes=0-1"})
    assert part.status_code == 206 and part.content == data[:2]
    assert part.headers["repr-digest"] == repr_digest(data)


def test_listings_and_run_downloads_carry_the_hash(client: httpx.Client) -> None:
    run_id, folder = new_run(client)
    ok(client.put(f"{ART}/{folder}/notes.txt", content=b"hello"))
    listing = ok(client.get(f"{API}/artifacts/list", params={"run_id": run_id}))
    assert listing["files"] == [
        {"path": "notes.txt", "is_dir": False, "file_size": 5, "sha256": sha(b"hello")}
    ]
    got = client.get("/get-artifact", params={"run_id": run_id, "path": "notes.txt"})
    assert got.headers["repr-digest"] == repr_digest(b"hello")
    # Overwriting records the new content's hash.
    ok(client.put(f"{ART}/{folder}/notes.txt", content=b"bye"))
    assert client.get(f"{ART}/{folder}/notes.txt").headers["etag"] == f'"{sha(b"bye")}"'


def test_a_file_never_uploaded_through_the_server_has_no_digest_headers(
    client: httpx.Client, artifacts_server: InprocServer
) -> None:
    target = artifacts_server.artifacts_root / "outside" / "x.bin"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"dropped in by hand")
    got = client.get(f"{ART}/outside/x.bin")
    assert got.status_code == 200 and "repr-digest" not in got.headers


# -- manifests ------------------------------------------------------------------------------
def test_registering_freezes_a_manifest_of_the_versions_files(client: httpx.Client) -> None:
    run_id, folder = new_run(client)
    log_model(client, folder)
    ok(client.put(f"{ART}/{folder}/outside-the-model.txt", content=b"x"))
    name, version = register(client, run_id)
    manifest = ok(client.get(f"{MY}/model-versions/manifest", params={"name": name, "version": 1}))[
        "manifest"
    ]
    expected = [ManifestFile(p, len(d), sha(d)) for p, d in sorted(MODEL_FILES.items())]
    assert manifest["files"] == [
        {"path": f.path, "size": f.size, "sha256": f.sha256} for f in expected
    ]
    assert manifest["digest"] == f"sha256:{manifest_digest(expected)}"
    assert (manifest["name"], manifest["version"], manifest["file_count"]) == (name, version, 3)
    assert manifest["total_size"] == sum(map(len, MODEL_FILES.values()))
    # Stages and aliases name the same version.
    ok(
        client.post(
            f"{API}/model-versions/transition-stage",
            json={"name": name, "version": version, "stage": "Production"},
        )
    )
    ok(
        client.post(
            f"{API}/registered-models/alias",
            json={"name": name, "alias": "champ", "version": version},
        )
    )
    for ref in ("Production", "production", "@champ"):
        got = ok(client.get(f"{MY}/model-versions/manifest", params={"name": name, "version": ref}))
        assert got["manifest"]["digest"] == manifest["digest"]
    # The version page shows it.
    page = client.get(f"/models/{name}/versions/{version}")
    assert page.status_code == 200
    assert manifest_digest(expected) in page.text and "sub/w.bin" in page.text


def test_frozen_files_cannot_be_overwritten_or_deleted_until_the_version_goes(
    client: httpx.Client,
) -> None:
    run_id, folder = new_run(client)
    log_model(client, folder)
    name, version = register(client, run_id)
    for response in (
        client.put(f"{ART}/{folder}/model/model.pkl", content=b"tampered"),
        client.delete(f"{ART}/{folder}/model/sub/w.bin"),
        client.delete(f"{ART}/{folder}/model"),
        client.delete(f"{ART}/{folder}/"),
        client.post(
            "/ajax-api/2.0/mlflow/upload-artifact",
            params={"run_uuid": run_id, "path": "model/MLmodel"},
            content=b"x",
        ),
    ):
        # 409, not MLflow's INVALID_STATE (a 500, which clients retry).
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["error_code"] == "RESOURCE_CONFLICT"
        assert f"registered model '{name}' version {version}" in body["message"]
        assert "immutable" in body["message"]
    assert client.get(f"{ART}/{folder}/model/model.pkl").content == MODEL_FILES["model.pkl"]
    # New files beside the frozen ones, and files outside the version, are fine.
    ok(client.put(f"{ART}/{folder}/model/extra.txt", content=b"e"))
    ok(client.put(f"{ART}/{folder}/metrics.txt", content=b"m"))
    ok(client.delete(f"{ART}/{folder}/metrics.txt"))
    # Deleting the version releases its files.
    ok(
        client.request(
            "DELETE", f"{API}/model-versions/delete", json={"name": name, "version": version}
        )
    )
    ok(client.put(f"{ART}/{folder}/model/model.pkl", content=b"now allowed"))
    ok(client.delete(f"{ART}/{folder}/model"))


def test_verify_reports_files_changed_missing_or_added_behind_the_servers_back(
    client: httpx.Client, artifacts_server: InprocServer
) -> None:
    run_id, folder = new_run(client)
    log_model(client, folder)
    name, version = register(client, run_id)

    def verify() -> dict[str, Any]:
        answer = ok(
            client.post(f"{MY}/model-versions/verify", json={"name": name, "version": version})
        )
        result: dict[str, Any] = answer["verification"]
        return result

    clean = verify()
    assert (clean["ok"], clean["checked"], clean["differences"]) == (True, 3, [])
    on_disk = artifacts_server.artifacts_root / folder / "model"
    (on_disk / "model.pkl").write_bytes(b"bit rot")
    (on_disk / "sub" / "w.bin").unlink()
    (on_disk / "new.txt").write_bytes(b"n")
    found = verify()
    assert found["ok"] is False
    assert found["differences"] == [
        {
            "path": "model.pkl",
            "problem": "changed",
            "expected_sha256": sha(MODEL_FILES["model.pkl"]),
            "found_sha256": sha(b"bit rot"),
            "expected_size": 300_000,
            "found_size": 7,
        },
        {
            "path": "sub/w.bin",
            "problem": "missing",
            "expected_sha256": sha(b"w"),
            "expected_size": 1,
        },
        {"path": "new.txt", "problem": "added", "found_size": 1},
    ]


def test_the_light_client_refuses_a_download_whose_bytes_differ(
    artifacts_server: InprocServer, client: httpx.Client, tmp_path: Path
) -> None:
    run_id, folder = new_run(client)
    log_model(client, folder)
    name, version = register(client, run_id)
    with Client(artifacts_server.url) as light:
        good = light.download_model(f"models:/{name}/{version}", tmp_path / "good")
        assert (good / "model.pkl").read_bytes() == MODEL_FILES["model.pkl"]
        result = light.verify_model_version(name, version)
        assert result.ok and result.checked == 3
        assert light.get_model_version_manifest(name, version).files[0].path == "MLmodel"

        (artifacts_server.artifacts_root / folder / "model" / "MLmodel").write_bytes(
            b"flavors: []\n"
        )
        with pytest.raises(DigestMismatch, match=r"Integrity check failed .*MLmodel"):
            light.download_model(f"models:/{name}/{version}", tmp_path / "bad")
        assert not (tmp_path / "bad" / "MLmodel").exists()
        assert light.verify_model_version(name, version).ok is False


def test_a_version_whose_files_cannot_be_found_gets_an_empty_manifest_with_a_note(
    client: httpx.Client,
) -> None:
    run_id, _ = new_run(client)
    name, _ = register(client, run_id, "never-written")
    manifest = ok(
        client.get(f"{MY}/model-versions/manifest", params={"name": name, "version": "1"})
    )["manifest"]
    assert manifest["files"] == [] and "No files were found" in manifest["note"]


@pytest.mark.parametrize(
    ("params", "status", "code", "words"),
    [
        ({"version": "1"}, 400, "INVALID_PARAMETER_VALUE", "name"),
        (
            {"name": "no-such-model", "version": "1"},
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "no-such-model",
        ),
        ({"name": "NAME", "version": "Staging"}, 404, "RESOURCE_DOES_NOT_EXIST", "Staging"),
        ({"name": "NAME"}, 400, "INVALID_PARAMETER_VALUE", "version"),
    ],
)
def test_manifest_api_bad_input(
    client: httpx.Client, params: dict[str, str], status: int, code: str, words: str
) -> None:
    run_id, folder = new_run(client)
    log_model(client, folder)
    name, _ = register(client, run_id)
    query = {k: (name if v == "NAME" else v) for k, v in params.items()}
    response = client.get(f"{MY}/model-versions/manifest", params=query)
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code and words in response.json()["message"]
