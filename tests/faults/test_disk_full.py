"""Artifact disk full: the upload fails with a clear 507, nothing partial remains,
and metadata writes go on.

Two ways to fill the disk. Without root or a mount, the server process runs
under RLIMIT_FSIZE, so a write past the limit fails with EFBIG (Python ignores
SIGXFSZ, which would otherwise kill it; we ignore it explicitly as well); the
database and log stay far below the limit, as they would on a separate disk.
Where mounting is allowed (root, as in CI's container), the artifact root is a
real 8 MiB tmpfs and the kernel answers ENOSPC; that test is skipped, with the
reason, where the mount is refused.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from servers import modelyard_server

from modelyard.store.artifacts.base import TEMP_PREFIX

ART = "/api/2.0/mlflow-artifacts/artifacts"
LIMIT = 16 * 1024 * 1024
MIB = 1024 * 1024


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


@contextmanager
def _tmpfs(mountpoint: Path, size: int) -> Iterator[Path]:
    """A real, small filesystem at `mountpoint` (needs root or CAP_SYS_ADMIN)."""
    mountpoint.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(
            "a real full disk needs a tmpfs mount, which this environment refuses "
            f"(needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}; "
            "the RLIMIT_FSIZE test above covers the error path"
        )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=True)


def test_real_full_filesystem_is_507_and_uploads_resume_once_space_is_freed(
    tmp_path: Path,
) -> None:
    """ENOSPC from a real 8 MiB filesystem as the artifact root, not a simulated limit."""
    data = tmp_path / "data"
    with _tmpfs(data / "artifacts", 8 * MIB) as artifacts, modelyard_server(data) as server:
        api = f"{server.url}/api/2.0/mlflow"
        run_id = httpx.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"][
            "info"
        ]["run_id"]
        folder = f"0/{run_id}/artifacts"
        first = os.urandom(5 * MIB)
        r = httpx.put(f"{server.url}{ART}/{folder}/first.bin", content=first, timeout=60)
        assert r.status_code == 200, r.text

        # 5 MiB of 8 are used: a 4 MiB upload runs out of space part-way.
        second = os.urandom(4 * MIB)
        r = httpx.put(f"{server.url}{ART}/{folder}/second.bin", content=second, timeout=60)
        assert r.status_code == 507, r.text + server.log()[-3000:]
        body = r.json()
        assert body["error_code"] == "RESOURCE_EXHAUSTED"
        assert "out of space (No space left on device)" in body["message"]
        assert "free space on the server" in body["message"]

        # Nothing partial: not downloadable, not listed, no temporary file.
        assert httpx.get(f"{server.url}{ART}/{folder}/second.bin").status_code == 404
        listing = httpx.get(f"{server.url}{ART}", params={"path": folder}).json()
        assert [f["path"] for f in listing["files"]] == ["first.bin"]
        assert list(artifacts.rglob(f"{TEMP_PREFIX}*")) == []

        # Metadata lives elsewhere and goes on.
        r = httpx.post(
            f"{api}/runs/log-metric",
            json={"run_id": run_id, "key": "loss", "value": 0.25, "timestamp": 1, "step": 0},
        )
        assert r.status_code == 200, r.text

        # An operator frees space; the same upload now succeeds, byte-exact.
        (artifacts / folder / "first.bin").unlink()
        r = httpx.put(f"{server.url}{ART}/{folder}/second.bin", content=second, timeout=60)
        assert r.status_code == 200, r.text
        assert httpx.get(f"{server.url}{ART}/{folder}/second.bin").content == second
