"""Artifact disk full: the upload fails with a clear 507, nothing partial remains,
and metadata writes go on.

A full disk is simulated without root or a mount: the server process runs
under RLIMIT_FSIZE, so a write past the limit fails with EFBIG (Python ignores
SIGXFSZ, which would otherwise kill it; we ignore it explicitly as well). The
database and log stay far below the limit, as they would on a separate disk.
"""

from __future__ import annotations

import os
import resource
import signal
from pathlib import Path

import httpx
from servers import modelyard_server

from modelyard.store.artifacts.base import TEMP_PREFIX

ART = "/api/2.0/mlflow-artifacts/artifacts"
LIMIT = 16 * 1024 * 1024


def _small_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_full_artifact_disk_is_a_clear_error_and_metadata_goes_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with modelyard_server(data, preexec_fn=_small_disk) as server:
        api = f"{server.url}/api/2.0/mlflow"
        run_id = httpx.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"][
            "info"
        ]["run_id"]
        path = f"0/{run_id}/artifacts/model.bin"

        too_big = (b"\0" * (1024 * 1024) for _ in range(2 * LIMIT // (1024 * 1024)))
        r = httpx.put(f"{server.url}{ART}/{path}", content=too_big, timeout=60)
        assert r.status_code == 507, r.text + server.log()[-3000:]
        body = r.json()
        assert body["error_code"] == "RESOURCE_EXHAUSTED"
        assert "out of space" in body["message"] and "Traceback" not in r.text

        # Nothing partial: no file, no temporary file, nothing listed.
        assert httpx.get(f"{server.url}{ART}/{path}").status_code == 404
        assert list((data / "artifacts").rglob(f"{TEMP_PREFIX}*")) == []
        listing = httpx.get(f"{server.url}{ART}", params={"path": f"0/{run_id}/artifacts"})
        assert listing.json().get("files", []) == []

        # Metadata writes go on, and so does an upload that fits.
        r = httpx.post(
            f"{api}/runs/log-metric",
            json={"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0},
        )
        assert r.status_code == 200, r.text
        r = httpx.post(f"{api}/runs/create", json={"experiment_id": "0"})
        assert r.status_code == 200, r.text
        r = httpx.put(f"{server.url}{ART}/0/{run_id}/artifacts/small.txt", content=b"fits")
        assert r.status_code == 200, r.text
        metric = httpx.get(f"{api}/runs/get", params={"run_id": run_id}).json()
        assert metric["run"]["data"]["metrics"][0]["value"] == 0.5
    assert os.path.getsize(data / "modelyard.db") < LIMIT
