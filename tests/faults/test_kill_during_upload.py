"""SIGKILL during a large upload, local folder and S3, then restart on the same data:
nothing partial is visible, and the start-up sweep removes the temporary file or
the multipart upload the killed server left (src/modelyard/service/abandoned_uploads.py).

The client streams 1 GiB generated on the fly; the server is killed once it has
written at least KILL_AFTER bytes (several 8 MiB S3 parts), so the test's length
depends on reaching that point, not on sending the whole gigabyte.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from s3servers import S3Target
from servers import ServerProcess, modelyard_server

from modelyard.store.artifacts import LocalArtifactStore
from modelyard.store.artifacts.base import TEMP_PREFIX
from modelyard.store.artifacts.local import OWN_TEMP_PREFIX

ART = "/api/2.0/mlflow-artifacts/artifacts"
TOTAL = 1024**3  # what the client claims to send
MIB = 1024 * 1024
KILL_AFTER = 3 * 8 * MIB  # three S3 parts
PATH = "1/run/artifacts/model/weights.bin"


def _gigabyte() -> Iterator[bytes]:
    block = os.urandom(MIB)
    for _ in range(TOTAL // MIB):
        yield block


class Upload(threading.Thread):
    """One streamed PUT that is expected to die with the server."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.outcome: object = None

    def run(self) -> None:
        try:
            self.outcome = httpx.put(f"{self.url}{ART}/{PATH}", content=_gigabyte(), timeout=120)
        except httpx.TransportError as exc:
            self.outcome = exc


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # polling with a deadline


def _kill_mid_upload(server: ServerProcess, written: Callable[[], int]) -> Upload:
    upload = Upload(server.url)
    upload.start()
    _wait_for(lambda: written() >= KILL_AFTER, f"{KILL_AFTER} bytes to reach the store")
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    upload.join(timeout=60)
    assert isinstance(upload.outcome, httpx.TransportError), upload.outcome
    return upload


def _assert_nothing_visible(url: str) -> None:
    assert httpx.get(f"{url}{ART}/{PATH}", timeout=30).status_code == 404
    listing = httpx.get(f"{url}{ART}", params={"path": "1/run/artifacts/model"}, timeout=30)
    assert listing.status_code == 200, listing.text
    assert listing.json().get("files", []) == []


def _temp_files(root: Path) -> list[Path]:
    return list(root.rglob(f"{TEMP_PREFIX}*"))


def test_sigkill_during_local_upload_leaves_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    artifacts = data / "artifacts"

    def written() -> int:
        return sum(p.stat().st_size for p in _temp_files(artifacts) if p.exists())

    with modelyard_server(data) as server:
        _kill_mid_upload(server, written)
    assert _temp_files(artifacts), "the killed server left its temporary file"

    with modelyard_server(data) as again:
        _wait_for(lambda: not _temp_files(artifacts), "the start-up sweep")
        _assert_nothing_visible(again.url)
        # The path is free for a new upload.
        r = httpx.put(f"{again.url}{ART}/{PATH}", content=b"new", timeout=30)
        assert r.status_code == 200, r.text
        assert httpx.get(f"{again.url}{ART}/{PATH}", timeout=30).content == b"new"


def test_sigkill_during_s3_upload_leaves_no_multipart_upload(
    tmp_path: Path, s3_target: S3Target
) -> None:
    prefix = s3_target.new_prefix()
    client = s3_target.client()
    destination = ["--artifacts-destination", s3_target.uri(prefix)]

    def uploads() -> list[dict[str, str]]:
        answer = client.list_multipart_uploads(Bucket=s3_target.bucket, Prefix=f"{prefix}/")
        return list(answer.get("Uploads", []))

    def written() -> int:
        return sum(
            part["Size"]
            for u in uploads()
            for part in client.list_parts(
                Bucket=s3_target.bucket, Key=u["Key"], UploadId=u["UploadId"]
            ).get("Parts", [])
        )

    data = tmp_path / "data"
    with modelyard_server(data, extra_args=destination, env=s3_target.env()) as server:
        _kill_mid_upload(server, written)
    assert [u["Key"] for u in uploads()] == [f"{prefix}/{PATH}"], "the cut upload is in S3"

    restart = [*destination, "--abandoned-upload-age", "0"]
    with modelyard_server(data, extra_args=restart, env=s3_target.env()) as again:
        _wait_for(lambda: not uploads(), "the start-up sweep to abort the upload")
        _assert_nothing_visible(again.url)
    listed = client.list_objects_v2(Bucket=s3_target.bucket, Prefix=f"{prefix}/")
    assert listed.get("KeyCount", 0) == 0


def test_local_sweep_spares_live_uploads_and_foreign_files(tmp_path: Path) -> None:
    """Only our temporary files that no process holds are removed."""
    store = LocalArtifactStore(tmp_path)
    folder = tmp_path / "1" / "run"
    folder.mkdir(parents=True)
    dead = folder / f"{OWN_TEMP_PREFIX}dead"
    live = folder / f"{OWN_TEMP_PREFIX}live"
    mlflows = folder / f"{TEMP_PREFIX}0123abcd"  # an `mlflow server`'s, with no lock
    for path in (dead, live, mlflows):
        path.write_bytes(b"partial")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a writer in another server holds it
        assert store.remove_abandoned_uploads(0) == 1
        assert not dead.exists()
        assert live.exists() and mlflows.exists()
    assert store.remove_abandoned_uploads(0) == 1  # released: its writer has gone
    assert sorted(p.name for p in folder.iterdir()) == [mlflows.name]


def test_s3_sweep_spares_recent_uploads(s3_target: S3Target) -> None:
    store = s3_target.store()
    client = s3_target.client()
    key = f"{store.prefix}/1/run/artifacts/big.bin"
    upload_id = client.create_multipart_upload(Bucket=s3_target.bucket, Key=key)["UploadId"]
    client.upload_part(
        Bucket=s3_target.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x" * MIB
    )
    assert store.remove_abandoned_uploads(3600) == 0
    assert store.incomplete_uploads() == ["1/run/artifacts/big.bin"]
    assert store.remove_abandoned_uploads(0) == 1
    assert store.incomplete_uploads() == []
