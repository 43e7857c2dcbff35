"""Object store full: an S3 quota refusing an upload is a clear 507, as a full local disk
is, with nothing partial left (no object, no multipart upload), and uploads work again
once the quota allows them.

The condition must be real and deterministic, which SeaweedFS (our default test
S3) cannot give: over its bucket quota, or out of volumes, it answers every write
with a generic `500 InternalError` ("We encountered an internal error"), which no
client can tell from any other failure, so modelyard reports it as the 500 it is.
Ceph radosgw answers `403 QuotaExceeded`, and its bucket quotas apply at once,
so this test runs against radosgw: `bench/ceph_radosgw.sh test
tests/faults/test_s3_full.py` starts one and sets MODELYARD_TEST_RGW_ADMIN (the
`radosgw-admin` command line for it). Elsewhere it is skipped, with that reason.
The translation table itself is checked everywhere by tests/unit/test_s3_errors.py.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from s3servers import S3Target
from servers import modelyard_server

ART = "/api/2.0/mlflow-artifacts/artifacts"
MIB = 1024 * 1024
RGW_ADMIN = os.environ.get("MODELYARD_TEST_RGW_ADMIN", "")

# Decided before any fixture starts (no SeaweedFS is started just to skip).
pytestmark = pytest.mark.skipif(
    not RGW_ADMIN,
    reason="needs Ceph radosgw, whose quotas answer QuotaExceeded (SeaweedFS answers a "
    "generic 500): run bench/ceph_radosgw.sh test tests/faults/test_s3_full.py",
)


def _quota(admin: list[str], bucket: str, max_bytes: int) -> None:
    """Set (or with -1 lift) a quota on one bucket; radosgw enforces it from the next write."""
    for op in (["set", f"--max-size={max_bytes}"], ["enable"]):
        subprocess.run(
            [*admin, "quota", op[0], "--quota-scope=bucket", f"--bucket={bucket}", *op[1:]],
            check=True,
            capture_output=True,
        )


def test_s3_quota_is_507_nothing_partial_and_uploads_resume(
    tmp_path: Path, s3_target: S3Target
) -> None:
    admin = shlex.split(RGW_ADMIN)
    client = s3_target.client()
    bucket = f"modelyard-quota-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    _quota(admin, bucket, 16 * MIB)
    destination = ["--artifacts-destination", f"s3://{bucket}/artifacts"]
    with modelyard_server(tmp_path / "data", extra_args=destination, env=s3_target.env()) as server:
        api = f"{server.url}/api/2.0/mlflow"
        run_id = httpx.post(f"{api}/runs/create", json={"experiment_id": "0"}).json()["run"][
            "info"
        ]["run_id"]
        folder = f"0/{run_id}/artifacts"

        def put(name: str, data: bytes) -> httpx.Response:
            return httpx.put(f"{server.url}{ART}/{folder}/{name}", content=data, timeout=120)

        for name in ("a.bin", "b.bin"):  # 14 of 16 MiB, each one PutObject
            assert put(name, os.urandom(7 * MIB)).status_code == 200

        # One PutObject over the quota.
        r = put("c.bin", os.urandom(7 * MIB))
        assert r.status_code == 507, r.text + server.log()[-3000:]
        assert r.json()["error_code"] == "RESOURCE_EXHAUSTED"
        assert "out of space or over its quota (QuotaExceeded" in r.json()["message"]
        assert "raise the bucket's or user's quota" in r.json()["message"]

        # A multipart upload whose first part fits and whose second does not.
        _quota(admin, bucket, 22 * MIB)
        big = os.urandom(20 * MIB)
        r = put("big.bin", big)
        assert r.status_code == 507, r.text + server.log()[-3000:]
        assert "QuotaExceeded" in r.json()["message"]

        # Nothing partial: neither object, no multipart upload left, metadata goes on.
        for name in ("c.bin", "big.bin"):
            assert httpx.get(f"{server.url}{ART}/{folder}/{name}").status_code == 404
        listing = httpx.get(f"{server.url}{ART}", params={"path": folder}).json()
        assert [f["path"] for f in listing["files"]] == ["a.bin", "b.bin"]
        assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        r = httpx.post(
            f"{api}/runs/log-metric",
            json={"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0},
        )
        assert r.status_code == 200, r.text

        # The quota is lifted: the same upload goes through, byte-exact.
        _quota(admin, bucket, -1)
        assert put("big.bin", big).status_code == 200
        assert httpx.get(f"{server.url}{ART}/{folder}/big.bin", timeout=60).content == big
