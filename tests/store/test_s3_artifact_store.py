"""What only the S3 store has: multipart paths, presigned URLs, configuration, S3 errors.

The shared contract (put/get/list/delete/atomicity/traversal) runs against S3 in
test_artifact_store.py; these tests cover what the local store answers with
MLflow's 501 and what S3 adds (client settings, error translation).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from modelyard.errors import (
    InternalError,
    InvalidParameterValue,
    ResourceDoesNotExist,
    TemporarilyUnavailable,
    Unauthenticated,
)
from modelyard.store.artifacts import S3ArtifactStore, S3Connection, S3Options, open_artifact_store
from modelyard.store.artifacts.base import UploadedPart
from modelyard.store.artifacts.s3 import MIN_PART_SIZE, parse_s3_uri

if TYPE_CHECKING:
    from s3servers import S3Target


@pytest.fixture
def store(s3_target: S3Target) -> S3ArtifactStore:
    return s3_target.store(part_size=MIN_PART_SIZE)


def _object(store: S3ArtifactStore, rel: str) -> dict[str, Any]:
    head: dict[str, Any] = store.client.head_object(Bucket=store.bucket, Key=store._key(rel))  # type: ignore[assignment]
    return head


def _read(store: S3ArtifactStore, rel: str) -> bytes:
    async def main() -> bytes:
        return b"".join([c async for c in store.get(rel)])

    return anyio.run(main)


# -- streamed puts -------------------------------------------------------------------------
def test_large_async_put_goes_multipart_and_reads_back_exactly(store: S3ArtifactStore) -> None:
    data = os.urandom(MIN_PART_SIZE * 2 + 12345)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 65536):  # the size of network reads
            yield data[i : i + 65536]

    async def main() -> int:
        return await store.put("m/model.bin", chunks())

    assert anyio.run(main) == len(data)
    # A multipart object's ETag is "<md5 of part md5s>-<number of parts>".
    assert _object(store, "m/model.bin")["ETag"].strip('"').endswith("-3")
    assert hashlib.sha256(_read(store, "m/model.bin")).digest() == hashlib.sha256(data).digest()
    with store.open("m/model.bin") as f:
        assert f.read(10) == data[:10]
        assert f.read() == data[10:]
    assert store.incomplete_uploads() == []


def test_small_put_is_one_object_and_sync_put_can_be_multipart(store: S3ArtifactStore) -> None:
    anyio.run(store.put, "a/small.txt", [b"hello"])
    assert "-" not in _object(store, "a/small.txt")["ETag"]
    big = [os.urandom(1 << 20) for _ in range(6)]
    assert anyio.run(store.put, "a/big.bin", big) == 6 << 20
    assert _object(store, "a/big.bin")["ETag"].strip('"').endswith("-2")
    assert _read(store, "a/big.bin") == b"".join(big)


def test_stat_of_empty_and_small_and_large_files(store: S3ArtifactStore) -> None:
    anyio.run(store.put, "e/empty", [])
    anyio.run(store.put, "e/small", [b"12345"])
    anyio.run(store.put, "e/large", [b"x" * 1000])
    assert store.stat("e/empty", read_below=100).content == b""
    assert store.stat("e/empty").size == 0
    small = store.stat("e/small", read_below=100)
    assert (small.size, small.content, small.local_path) == (5, b"12345", None)
    large = store.stat("e/large", read_below=100)
    assert (large.size, large.content) == (1000, None)
    assert store.list("e") == sorted(store.list("e"), key=lambda i: i.path)
    assert [(i.path, i.file_size) for i in store.list("e")] == [
        ("e/empty", 0),
        ("e/large", 1000),
        ("e/small", 5),
    ]


def test_listing_pages_past_a_thousand_keys(store: S3ArtifactStore) -> None:
    def put_empty(i: int) -> None:
        store.client.put_object(Bucket=store.bucket, Key=store._key(f"many/f{i:04d}"), Body=b"")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put_empty, range(1005)))
    listed = store.list("many")
    assert len(listed) == 1005 and listed[0].path == "many/f0000"
    store.delete("many")
    assert store.list("many") == [] and not store.exists("many")


def test_directory_markers_are_not_files(store: S3ArtifactStore) -> None:
    # Consoles and some tools create "folder/" objects of size zero.
    store.client.put_object(Bucket=store.bucket, Key=store._key("d") + "/", Body=b"")
    anyio.run(store.put, "d/f.txt", [b"x"])
    assert [(i.path, i.is_dir) for i in store.list("d")] == [("d/f.txt", False)]


# -- multipart uploads driven by clients (mpu/create|complete|abort) ----------------------------
def _send_parts(upload: Any, data: bytes, part_size: int) -> list[UploadedPart]:
    parts = []
    with httpx.Client(timeout=60) as http:
        for credential in upload.credentials:
            start = (credential.part_number - 1) * part_size
            answer = http.put(
                credential.url,
                content=data[start : start + part_size],
                headers=credential.headers,
            )
            assert answer.status_code == 200, answer.text
            parts.append(UploadedPart(credential.part_number, answer.headers["etag"]))
    return parts


def test_presigned_multipart_upload_then_complete(store: S3ArtifactStore) -> None:
    data = os.urandom(MIN_PART_SIZE + 1000)
    upload = store.create_multipart_upload("run/artifacts", "/home/me/weights.bin", 2)
    assert upload.upload_id and [c.part_number for c in upload.credentials] == [1, 2]
    assert all(
        c.url.startswith(store.connection.options.endpoint_url or "") for c in upload.credentials
    )
    parts = _send_parts(upload, data, MIN_PART_SIZE)
    assert store.incomplete_uploads() == ["run/artifacts/weights.bin"]
    store.complete_multipart_upload(
        "run/artifacts", "/home/me/weights.bin", upload.upload_id, parts[::-1]
    )
    assert _read(store, "run/artifacts/weights.bin") == data
    assert store.incomplete_uploads() == []


def test_abort_leaves_nothing(store: S3ArtifactStore) -> None:
    upload = store.create_multipart_upload("r", "C:\\Users\\me\\model.pkl", 1)
    assert upload.upload_id
    _send_parts(upload, b"partial", MIN_PART_SIZE)
    store.abort_multipart_upload("r", "C:\\Users\\me\\model.pkl", upload.upload_id)
    assert store.incomplete_uploads() == []
    assert not store.exists("r/model.pkl")
    # SeaweedFS and AWS answer NoSuchUpload (400 here); Ceph radosgw an InternalError.
    with pytest.raises((InvalidParameterValue, InternalError)):
        store.complete_multipart_upload(
            "r", "model.pkl", upload.upload_id, [UploadedPart(1, '"x"')]
        )
    assert not store.exists("r/model.pkl")


@pytest.mark.parametrize(
    ("path", "filename", "num_parts", "message"),
    [
        ("r", "x.bin", 0, "num_parts"),
        ("r", "x.bin", 10_001, "num_parts"),
        ("r", "/tmp/..", 1, "'..' segments"),
        ("../up", "x.bin", 1, "'..' segments"),
        ("r", "dir/", 1, "Invalid file name"),
        ("r", ".artifact.uploading.x", 1, "reserved"),
    ],
)
def test_multipart_create_refuses_bad_requests(
    store: S3ArtifactStore, path: str, filename: str, num_parts: int, message: str
) -> None:
    with pytest.raises(InvalidParameterValue, match=message):
        store.create_multipart_upload(path, filename, num_parts)
    assert store.incomplete_uploads() == []


def test_presigned_download_is_an_attachment_of_the_object(store: S3ArtifactStore) -> None:
    anyio.run(store.put, "p/report.html", [b"<h1>hi</h1>"])
    presigned = store.presigned_download("p/report.html", 60)
    assert presigned.file_size == 11
    answer = httpx.get(presigned.url)
    assert answer.status_code == 200 and answer.content == b"<h1>hi</h1>"
    assert answer.headers["content-disposition"].startswith("attachment")
    with pytest.raises(ResourceDoesNotExist):
        store.presigned_download("p/missing", 60)


# -- client settings --------------------------------------------------------------------------
@pytest.mark.parametrize("checksums", ["when_required", "when_supported"])
def test_both_checksum_modes_work(s3_target: S3Target, checksums: str) -> None:
    store = S3ArtifactStore(
        s3_target.bucket,
        s3_target.new_prefix(),
        s3_target.connection(checksums=checksums),
        part_size=MIN_PART_SIZE,
    )
    data = os.urandom(MIN_PART_SIZE + 7)
    anyio.run(store.put, "c.bin", [data])
    anyio.run(store.put, "small.bin", [b"abc"])
    assert _read(store, "c.bin") == data and _read(store, "small.bin") == b"abc"
    store.delete("c.bin")
    assert not store.exists("c.bin")


def test_options_come_from_settings_then_mlflow_then_aws_variables() -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://aws-var:1",
        "AWS_ENDPOINT_URL_S3": "http://aws-s3-var:2",
        "MLFLOW_S3_ENDPOINT_URL": "http://mlflow-var:3",
    }
    assert S3Options.resolve(environ=env).endpoint_url == "http://mlflow-var:3"
    assert S3Options.resolve(endpoint_url="http://flag:4", environ=env).endpoint_url == (
        "http://flag:4"
    )
    del env["MLFLOW_S3_ENDPOINT_URL"]
    assert S3Options.resolve(environ=env).endpoint_url == "http://aws-s3-var:2"
    # Path style and a SigV4 region by default for a custom endpoint ...
    custom = S3Options.resolve(environ={"AWS_ENDPOINT_URL": "http://x:1"})
    assert (custom.addressing_style, custom.region, custom.checksums) == (
        "path",
        "us-east-1",
        None,
    )
    # ... boto3's defaults for AWS itself; MLflow's variables still count.
    aws = S3Options.resolve(environ={"AWS_REGION": "eu-west-3"})
    assert (aws.endpoint_url, aws.addressing_style, aws.region) == (None, "auto", "eu-west-3")
    mlflow_env = {"MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE": "virtual", "MLFLOW_S3_IGNORE_TLS": "true"}
    legacy = S3Options.resolve(environ=mlflow_env)
    assert (legacy.addressing_style, legacy.verify_tls) == ("virtual", False)
    assert S3Options.resolve(checksums="when_required", environ={}).checksums == "when_required"
    with pytest.raises(ValueError, match="addressing style"):
        S3Options(addressing_style="sideways")
    with pytest.raises(ValueError, match="checksum"):
        S3Options(checksums="always")


def test_open_artifact_store_parses_s3_locations(s3_target: S3Target) -> None:
    conn = s3_target.connection()
    store = open_artifact_store("s3://bucket-a/some/prefix/", s3=conn)
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix, store.connection) == ("bucket-a", "some/prefix", conn)
    assert parse_s3_uri("s3://b") == ("b", "")
    for bad in ("s3:///nobucket", "s3://b/a/../../x", "s3://b/p?versionId=1"):
        with pytest.raises(InvalidParameterValue):
            parse_s3_uri(bad)


def test_store_at_the_bucket_root(s3_target: S3Target) -> None:
    bucket = f"root-{uuid.uuid4().hex[:8]}"
    s3_target.client().create_bucket(Bucket=bucket)
    store = S3ArtifactStore(bucket, "", s3_target.connection())
    assert store.list() == [] and not store.exists("")
    anyio.run(store.put, "1/r/artifacts/x.txt", [b"x"])
    assert [i.path for i in store.list()] == ["1"]
    assert [i.path for i in store.list("1/r/artifacts")] == ["1/r/artifacts/x.txt"]
    store.delete("1")
    assert store.list() == []


# -- S3 errors become modelyard errors, once, at the boundary -----------------------------------
def test_wrong_credentials_are_unauthenticated(s3_target: S3Target) -> None:
    import boto3

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3_target.endpoint_url,
        region_name=s3_target.region,
        aws_access_key_id=s3_target.access_key,
        aws_secret_access_key="wrong-secret",
    )
    store = S3ArtifactStore(s3_target.bucket, "p", S3Connection(s3_target.options(), client=client))
    with pytest.raises(Unauthenticated, match="credentials"):
        store.list("")
    with pytest.raises(Unauthenticated):
        anyio.run(store.put, "x", [b"x"])


def test_missing_bucket_is_a_server_error_naming_it(s3_target: S3Target) -> None:
    store = S3ArtifactStore("no-such-bucket-here", "p", s3_target.connection())
    with pytest.raises(InternalError, match="no-such-bucket-here"):
        store.list("")
    with pytest.raises(InternalError, match="no-such-bucket-here"):
        anyio.run(store.put, "x", [b"x"])


def test_unreachable_endpoint_is_temporarily_unavailable() -> None:
    from servers import free_port

    options = S3Options(endpoint_url=f"http://127.0.0.1:{free_port()}", region="us-east-1")
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=options.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    store = S3ArtifactStore("b", "", S3Connection(options, client=client))
    with pytest.raises(TemporarilyUnavailable, match="cannot be reached"):
        store.stat("x")
