"""Artifacts as objects in an S3-compatible bucket (AWS S3, SeaweedFS, Ceph radosgw, MinIO …).

Keys follow MLflow's layout under the destination's prefix
(`s3://bucket/prefix` + `/1/<run>/artifacts/model.pkl`), so a bucket written by
`mlflow server --artifacts-destination s3://…` and one written by us are
interchangeable.

What S3 gives us and what we add:

* **Atomic publication** is S3's own: an object appears when PutObject or
  CompleteMultipartUpload returns, and an earlier object at the key stays
  readable until then. Small bodies (below one part) go up in one PutObject;
  larger ones stream as a multipart upload, holding about two parts in memory at a
  time, and any failure or cancellation aborts the upload so that nothing is
  left behind (not even invisible parts that would be billed).
* **A tree, not a flat key space**: S3 accepts both `a` and `a/b` as keys,
  which would list `a` twice (as a file and as a directory). The local store
  refuses that, and so do we: before an upload we check, concurrently, that
  no ancestor is a file and that the target is not a directory. That costs
  one extra round trip per upload (the checks run in parallel) and is not
  airtight against two clients racing to create `a` and `a/b`, which MLflow's
  S3 repository does not attempt at all.
* **Multipart endpoints** (`mpu/create|complete|abort`) hand out presigned
  UploadPart URLs, exactly as MLflow's S3ArtifactRepository does, so clients
  send parts straight to the object store and never through this server.

boto3 is imported lazily, on the first request that needs a client, so that
`import modelyard` and servers without S3 do not pay for it. One client per
connection settings is shared by every thread (boto3 clients are thread-safe).
"""

from __future__ import annotations

import builtins
import io
import logging
import os
import posixpath
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TypeVar
from urllib.parse import quote, urlparse

import anyio
import anyio.to_thread

from modelyard.errors import (
    InternalError,
    InvalidParameterValue,
    ModelyardError,
    PermissionDenied,
    ResourceDoesNotExist,
    TemporarilyUnavailable,
    Unauthenticated,
)
from modelyard.store.artifacts import hashing
from modelyard.store.artifacts.base import (
    CHUNK_SIZE,
    TEMP_PREFIX,
    ArtifactStore,
    Chunks,
    FileInfo,
    MultipartCredential,
    MultipartUpload,
    PresignedDownload,
    StoredFile,
    UploadedPart,
)
from modelyard.store.artifacts.paths import clean_artifact_path, join_artifact_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("modelyard.store.artifacts.s3")

# S3 refuses parts below 5 MiB (except the last). 8 MiB keeps one upload's
# memory small while a 5 GB model is ~640 parts, far below the 10,000 limit;
# the largest object this part size allows is 10,000 × 8 MiB ≈ 78 GiB.
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000

# Lifetime of presigned UploadPart URLs (boto3's default, as MLflow uses).
PRESIGNED_UPLOAD_TTL = 3600

ADDRESSING_STYLES = ("path", "virtual", "auto")
CHECKSUM_MODES = ("when_required", "when_supported")

# MLflow's mapping of S3 error codes to its own (s3_artifact_repo.BOTO_TO_MLFLOW_ERROR).
# HEAD answers carry no body, so botocore reports the bare status as the code.
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_DENIED = frozenset({"AccessDenied", "403", "Forbidden"})
_UNAUTHENTICATED = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch"})

T = TypeVar("T")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True, slots=True)
class S3Options:
    """How to reach the object store; everything else (credentials) is boto3's usual chain.

    Credentials are deliberately not settings: boto3 already reads
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE,
    ~/.aws and instance or pod roles, and secrets do not belong on a command line.
    """

    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: str = "auto"
    checksums: str | None = None
    verify_tls: bool = True
    part_size: int = DEFAULT_PART_SIZE

    def __post_init__(self) -> None:
        if self.addressing_style not in ADDRESSING_STYLES:
            raise ValueError(
                f"S3 addressing style must be one of {', '.join(ADDRESSING_STYLES)}, "
                f"got {self.addressing_style!r}"
            )
        if self.checksums is not None and self.checksums not in CHECKSUM_MODES:
            raise ValueError(
                f"S3 checksum mode must be one of {', '.join(CHECKSUM_MODES)}, "
                f"got {self.checksums!r}"
            )
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 part size must be at least {MIN_PART_SIZE} bytes")

    @classmethod
    def resolve(
        cls,
        *,
        endpoint_url: str | None = None,
        addressing_style: str | None = None,
        checksums: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> S3Options:
        """Explicit settings first, then the variables existing deployments already set.

        Endpoint: `--s3-endpoint-url`, MLflow's MLFLOW_S3_ENDPOINT_URL, then the
        AWS SDKs' AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL. Addressing style:
        the setting, MLflow's MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE, else `path`
        for a custom endpoint (S3-compatible servers rarely have wildcard DNS
        for virtual-hosted buckets) and boto3's `auto` for AWS itself.
        Checksums: the setting, else botocore's own default, which honours
        AWS_REQUEST_CHECKSUM_CALCULATION.
        """
        env = os.environ if environ is None else environ
        endpoint = (
            endpoint_url
            or env.get("MLFLOW_S3_ENDPOINT_URL")
            or env.get("AWS_ENDPOINT_URL_S3")
            or env.get("AWS_ENDPOINT_URL")
            or None
        )
        style = addressing_style or env.get("MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE") or None
        if style is None:
            style = "path" if endpoint else "auto"
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        if region is None and endpoint:
            # SigV4 signs with a region; S3-compatible servers accept us-east-1.
            region = "us-east-1"
        return cls(
            endpoint_url=endpoint,
            region=region,
            addressing_style=style,
            checksums=checksums or None,
            verify_tls=not _truthy(env.get("MLFLOW_S3_IGNORE_TLS")),
        )


class S3Connection:
    """A lazily created boto3 client for one set of options, shared by every store.

    Stores for different buckets (the destination, experiments whose
    artifact_location is another s3:// URI) share it, since creating a client
    costs tens of milliseconds and a connection pool.
    """

    def __init__(self, options: S3Options | None = None, *, client: S3Client | None = None) -> None:
        """`client` replaces the one built from `options` (tests inject credentials so)."""
        self.options = options or S3Options.resolve()
        self._client: S3Client | None = client
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"S3Connection({self.options!r})"

    @property
    def client(self) -> S3Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._create_client()
        return self._client

    def _create_client(self) -> S3Client:
        import boto3
        from botocore.config import Config

        opts = self.options
        config_args: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": opts.addressing_style},
            # Enough for every thread-pool worker to hold a connection.
            "max_pool_connections": 64,
            "retries": {"mode": "standard", "max_attempts": 3},
        }
        if opts.checksums is not None:
            config_args["request_checksum_calculation"] = opts.checksums
            config_args["response_checksum_validation"] = opts.checksums
        return boto3.session.Session().client(
            "s3",
            endpoint_url=opts.endpoint_url,
            region_name=opts.region,
            verify=None if opts.verify_tls else False,
            config=Config(**config_args),
        )

    def run_concurrently(self, calls: builtins.list[Callable[[], T]]) -> builtins.list[T]:
        """Run independent S3 calls in parallel (the tree checks before an upload)."""
        if len(calls) == 1:
            return [calls[0]()]
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(16, thread_name_prefix="modelyard-s3")
        futures = [self._pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def parse_s3_uri(location: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix`; the prefix in normal form ('' for none)."""
    parsed = urlparse(location)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidParameterValue(
            f"Invalid S3 location {location!r}: expected s3://bucket or s3://bucket/prefix."
        )
    if parsed.query or parsed.fragment:
        raise InvalidParameterValue(
            f"Invalid S3 location {location!r}: it must not have a query or fragment."
        )
    return parsed.netloc, clean_artifact_path(parsed.path.strip("/"))


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def _is_not_found(exc: BaseException) -> bool:
    return _error_code(exc) in _NOT_FOUND


class _Body(io.RawIOBase):
    """A botocore StreamingBody as a raw binary stream (for `open`)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data: bytes = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


@dataclass
class _Writer:
    """One object being written: one PutObject when small, else a multipart upload.

    Synchronous; the async `put` hands it whole parts, one thread hop each.
    """

    store: S3ArtifactStore
    key: str
    rel: str
    upload_id: str | None = None
    parts: builtins.list[dict[str, Any]] = field(default_factory=list)
    # The content hash, complete once the last chunk has been read (put_hashed):
    # sent as metadata with a single PutObject, added by a copy after a multipart one.
    digest: Callable[[], hashing.Digest] | None = None

    def send_part(self, data: bytes) -> None:
        store = self.store
        if self.upload_id is None:
            store._check_tree(self.key, self.rel)
            created = store._call(
                self.rel,
                store.client.create_multipart_upload,
                Bucket=store.bucket,
                Key=self.key,
            )
            self.upload_id = created["UploadId"]
        number = len(self.parts) + 1
        if number > MAX_PARTS:
            raise InvalidParameterValue(
                f"Artifact {self.rel!r} is too large: S3 allows {MAX_PARTS} parts of "
                f"{store.part_size} bytes."
            )
        answer = store._call(
            self.rel,
            store.client.upload_part,
            Bucket=store.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def finish(self, rest: bytes) -> None:
        store = self.store
        if self.upload_id is None:
            store._check_tree(self.key, self.rel)
            extra = {"Metadata": hashing.s3_metadata(self.digest())} if self.digest else {}
            put = store.client.put_object
            store._call(self.rel, put, Bucket=store.bucket, Key=self.key, Body=rest, **extra)
            return
        if rest:
            self.send_part(rest)
        store._call(
            self.rel,
            store.client.complete_multipart_upload,
            Bucket=store.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )
        self.upload_id = None
        if self.digest is not None:
            hashing.s3_annotate(store.client, store.bucket, self.key, self.digest())

    def abort(self) -> None:
        """Drop the parts sent so far; a failure here is logged, not raised over the cause."""
        if self.upload_id is None:
            return
        upload_id, self.upload_id = self.upload_id, None
        try:
            self.store.client.abort_multipart_upload(
                Bucket=self.store.bucket, Key=self.key, UploadId=upload_id
            )
        except Exception:
            log.warning(
                "could not abort the multipart upload %s of s3://%s/%s; a bucket lifecycle "
                "rule (AbortIncompleteMultipartUpload) will remove its parts",
                upload_id,
                self.store.bucket,
                self.key,
                exc_info=True,
            )


class S3ArtifactStore(ArtifactStore):
    """Objects under `s3://bucket/prefix`; the bucket must exist."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        connection: S3Connection | None = None,
        *,
        part_size: int | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = clean_artifact_path(prefix)
        self.connection = connection or S3Connection()
        self.part_size = part_size or self.connection.options.part_size
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 part size must be at least {MIN_PART_SIZE} bytes")

    @classmethod
    def from_uri(
        cls, location: str, connection: S3Connection | None = None, *, part_size: int | None = None
    ) -> S3ArtifactStore:
        bucket, prefix = parse_s3_uri(location)
        return cls(bucket, prefix, connection, part_size=part_size)

    def __repr__(self) -> str:
        return f"S3ArtifactStore({self.location!r})"

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def client(self) -> S3Client:
        return self.connection.client

    # -- keys and errors ---------------------------------------------------------------
    def _key(self, rel: str) -> str:
        return join_artifact_path(self.prefix, rel)

    def _dir_prefix(self, rel: str) -> str:
        key = self._key(rel)
        return f"{key}/" if key else ""

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def _fail(self, exc: Exception, rel: str) -> NoReturn:
        """Translate a botocore error, once, at the store boundary."""
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"s3://{self.bucket}/{self._key(rel)}"
        if isinstance(exc, ClientError):
            code = _error_code(exc) or "?"
            message = exc.response.get("Error", {}).get("Message") or code
            if code == "NoSuchBucket":
                raise InternalError(
                    f"The artifact bucket {self.bucket!r} does not exist: {message}"
                ) from exc
            if code in _NOT_FOUND:
                raise ResourceDoesNotExist(f"No such artifact: '{rel}'") from exc
            if code in _DENIED:
                raise PermissionDenied(f"Access denied to {where}: {message}") from exc
            if code in _UNAUTHENTICATED:
                raise Unauthenticated(
                    f"The object store refused our credentials: {message}"
                ) from exc
            if code in ("NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
                raise InvalidParameterValue(
                    f"Multipart upload to '{rel}' failed: {message}"
                ) from exc
            if code in ("SlowDown", "ServiceUnavailable", "503", "RequestTimeout"):
                raise TemporarilyUnavailable(f"The object store is busy: {message}") from exc
            raise InternalError(f"S3 error {code} at {where}: {message}") from exc
        if isinstance(exc, BotoCoreError):
            raise TemporarilyUnavailable(f"The object store cannot be reached: {exc}") from exc
        raise exc

    def _call(self, rel: str, method: Callable[..., T], **kwargs: Any) -> T:
        try:
            return method(**kwargs)
        except ModelyardError:
            raise
        except Exception as exc:
            self._fail(exc, rel)

    def _is_object(self, rel: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(rel))
        except Exception as exc:
            if _is_not_found(exc):
                return False
            self._fail(exc, rel)
        return True

    def _is_dir(self, rel: str) -> bool:
        answer = self._call(
            rel,
            self.client.list_objects_v2,
            Bucket=self.bucket,
            Prefix=self._dir_prefix(rel),
            MaxKeys=1,
        )
        return int(answer.get("KeyCount", 0)) > 0

    # -- writing -------------------------------------------------------------------------
    def _upload_target(self, path: str) -> tuple[str, str]:
        rel = clean_artifact_path(path, allow_root=False)
        if posixpath.basename(rel).startswith(TEMP_PREFIX):
            # Reserved in every store, so a tree copied between backends keeps its meaning.
            raise InvalidParameterValue(
                f"Invalid artifact path {path!r}: names starting with {TEMP_PREFIX!r} "
                "are reserved for uploads in progress."
            )
        return self._key(rel), rel

    def _check_tree(self, key: str, rel: str) -> None:
        """Refuse to write a file over a directory or below a file (see the module doc)."""
        segments = rel.split("/")
        ancestors = ["/".join(segments[:i]) for i in range(1, len(segments))]
        checks: builtins.list[Callable[[], bool]] = [lambda: self._is_dir(rel)]
        checks += [lambda a=a: self._is_object(a) for a in ancestors]  # type: ignore[misc]
        is_dir, *files = self.connection.run_concurrently(checks)
        if is_dir:
            raise InvalidParameterValue(
                f"Invalid artifact path {rel!r}: it is a directory, not a file."
            )
        if any(files):
            raise InvalidParameterValue(
                f"Invalid artifact path {rel!r}: a parent of it is a file, not a directory."
            )

    async def put_hashed(self, path: str, chunks: Chunks) -> hashing.Digest:
        """`put`, and the hash goes into the object's metadata as well (see hashing.py)."""
        stream = hashing.HashingStream(chunks)
        await self.put(path, stream.view(), digest=stream.digest)
        return stream.digest()

    async def put(
        self, path: str, chunks: Chunks, digest: Callable[[], hashing.Digest] | None = None
    ) -> int:
        key, rel = self._upload_target(path)
        if not isinstance(chunks, AsyncIterable):
            return await anyio.to_thread.run_sync(self._put_sync, key, rel, chunks, digest)
        writer = _Writer(self, key, rel, digest=digest)
        buffer = bytearray()
        size = 0
        done = False
        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= self.part_size:
                    part, buffer = bytes(buffer), bytearray()
                    await anyio.to_thread.run_sync(writer.send_part, part)
            # A small file is checked and stored in a single thread hop.
            await anyio.to_thread.run_sync(writer.finish, bytes(buffer))
            done = True
            return size
        finally:
            if not done and writer.upload_id is not None:
                # Runs while the task may be cancelled (client gone): shield the
                # network call, or the parts would outlive the failed upload.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(writer.abort)

    def _put_sync(
        self,
        key: str,
        rel: str,
        chunks: Iterable[bytes | bytearray],
        digest: Callable[[], hashing.Digest] | None = None,
    ) -> int:
        writer = _Writer(self, key, rel, digest=digest)
        buffer = bytearray()
        size = 0
        done = False
        try:
            for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= self.part_size:
                    part, buffer = bytes(buffer), bytearray()
                    writer.send_part(part)
            writer.finish(bytes(buffer))
            done = True
            return size
        finally:
            if not done:
                writer.abort()

    def incomplete_uploads(self) -> builtins.list[str]:
        """Keys (relative) with multipart uploads in progress: what a failed put must not leave."""
        answer = self._call(
            "",
            self.client.list_multipart_uploads,
            Bucket=self.bucket,
            Prefix=self._dir_prefix(""),
        )
        return sorted(self._rel(u["Key"]) for u in answer.get("Uploads", []))

    def remove_abandoned_uploads(self, idle_seconds: float) -> int:
        """Abort multipart uploads under our prefix idle for `idle_seconds` or more.

        S3 keeps the parts of an upload whose server was killed (and bills for
        them) until someone aborts it, and nothing in S3 says whether its writer
        is alive. An upload through this server sends a part every 8 MiB, and a
        client's own presigned upload a part at a time too, so one with no part
        (nor start) for a long while is abandoned. Idle time is measured on the
        parts' S3 timestamps against this machine's clock.
        """
        import datetime

        now = datetime.datetime.now(datetime.UTC)
        aborted = 0
        markers: dict[str, str] = {}
        while True:
            page = self._call(
                "",
                self.client.list_multipart_uploads,
                Bucket=self.bucket,
                Prefix=self._dir_prefix(""),
                **markers,
            )
            for upload in page.get("Uploads", []):
                key, upload_id = upload["Key"], upload["UploadId"]
                last = self._last_activity(key, upload_id, upload["Initiated"])
                if (now - last).total_seconds() < idle_seconds:
                    continue
                self._call(
                    self._rel(key),
                    self.client.abort_multipart_upload,
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                )
                log.info(
                    "aborted the abandoned multipart upload %s of s3://%s/%s",
                    upload_id,
                    self.bucket,
                    key,
                )
                aborted += 1
            if not page.get("IsTruncated"):
                return aborted
            markers = {
                "KeyMarker": page["NextKeyMarker"],
                "UploadIdMarker": page["NextUploadIdMarker"],
            }

    def _last_activity(self, key: str, upload_id: str, initiated: Any) -> Any:
        """When the upload last received a part (its start if none), over every page of parts."""
        last = initiated
        marker: dict[str, Any] = {}
        while True:
            page = self._call(
                self._rel(key),
                self.client.list_parts,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                **marker,
            )
            last = max([last, *(part["LastModified"] for part in page.get("Parts", []))])
            if not page.get("IsTruncated"):
                return last
            marker = {"PartNumberMarker": page["NextPartNumberMarker"]}

    # -- reading -------------------------------------------------------------------------
    def _not_a_file(self, rel: str) -> NoReturn:
        if rel == "" or self._is_dir(rel):
            raise InvalidParameterValue(f"Artifact path refers to a directory, not a file: '{rel}'")
        raise ResourceDoesNotExist(f"No such artifact: '{rel}'")

    def stat(self, path: str, *, read_below: int = 0) -> StoredFile:
        rel = clean_artifact_path(path)
        if rel == "":
            self._not_a_file(rel)
        key = self._key(rel)
        try:
            if read_below > 0:
                # One request either way: the first `read_below` bytes tell the
                # size (Content-Range) and, for a small file, are the file.
                answer = self.client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes=0-{read_below - 1}"
                )
                with answer["Body"] as body:
                    data = body.read()
                total = _total_size(answer.get("ContentRange"), answer["ContentLength"])
                return StoredFile(
                    path=rel,
                    size=total,
                    modified=answer["LastModified"].timestamp(),
                    content=data if total < read_below else None,
                    sha256=hashing.s3_digest_from(dict(answer)),
                )
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _is_not_found(exc):
                self._not_a_file(rel)
            if _error_code(exc) == "InvalidRange":  # an empty object has no byte 0
                return self._stat_empty(rel)
            self._fail(exc, rel)
        return StoredFile(
            path=rel,
            size=head["ContentLength"],
            modified=head["LastModified"].timestamp(),
            sha256=hashing.s3_digest_from(dict(head)),
        )

    def _stat_empty(self, rel: str) -> StoredFile:
        head = self._call(rel, self.client.head_object, Bucket=self.bucket, Key=self._key(rel))
        size = head["ContentLength"]
        return StoredFile(
            path=rel,
            size=size,
            modified=head["LastModified"].timestamp(),
            content=b"" if size == 0 else None,
            sha256=hashing.s3_digest_from(dict(head)),
        )

    def _open_body(self, path: str) -> Any:
        rel = clean_artifact_path(path)
        if rel == "":
            self._not_a_file(rel)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(rel))["Body"]
        except Exception as exc:
            if _is_not_found(exc):
                self._not_a_file(rel)
            self._fail(exc, rel)

    def open(self, path: str) -> BinaryIO:
        return io.BufferedReader(_Body(self._open_body(path)), CHUNK_SIZE)

    async def get(self, path: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        body = await anyio.to_thread.run_sync(self._open_body, path)
        try:
            while chunk := await anyio.to_thread.run_sync(body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    def list(self, path: str = "") -> builtins.list[FileInfo]:
        """MLflow's S3 listing: one delimiter-based ListObjectsV2 walk of the directory."""
        rel = clean_artifact_path(path)
        prefix = self._dir_prefix(rel)
        infos: builtins.list[FileInfo] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    sub = common.get("Prefix", "").rstrip("/")
                    if sub:
                        infos.append(FileInfo(self._rel(sub), True, None))
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue  # a "directory marker" some tools create
                    infos.append(FileInfo(self._rel(key), False, int(obj.get("Size", 0))))
        except ModelyardError:
            raise
        except Exception as exc:
            self._fail(exc, rel)
        infos.sort(key=lambda info: info.path)
        return infos

    def exists(self, path: str) -> bool:
        rel = clean_artifact_path(path)
        if rel and self._is_object(rel):
            return True
        return self._is_dir(rel)

    # -- deleting --------------------------------------------------------------------------
    def delete(self, path: str) -> None:
        """The object at `path` and every object below `path/` (MLflow deletes by prefix too)."""
        rel = clean_artifact_path(path, allow_root=False)
        top = self._dir_prefix(rel)
        # Servers with a real directory tree behind S3 (SeaweedFS's filer) keep
        # emptied directories and list them as common prefixes; deleting the
        # "dir/" keys, deepest first, removes them. On AWS they are no-ops.
        folders = {top}
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=top):
                keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
                for key in keys:
                    below = key["Key"][len(top) :].split("/")[:-1]
                    folders.update(
                        top + "/".join(below[:i]) + "/" for i in range(1, len(below) + 1)
                    )
                if keys:
                    self._delete_batch(rel, keys)
            deepest_first = sorted(folders, key=lambda f: (-f.count("/"), f))
            for start in range(0, len(deepest_first), 1000):
                batch = deepest_first[start : start + 1000]
                self._delete_batch(rel, [{"Key": folder} for folder in batch])
            self.client.delete_object(Bucket=self.bucket, Key=self._key(rel))
        except ModelyardError:
            raise
        except Exception as exc:
            if _is_not_found(exc) and _error_code(exc) != "NoSuchBucket":
                return
            self._fail(exc, rel)

    def _delete_batch(self, rel: str, keys: builtins.list[dict[str, str]]) -> None:
        answer = self.client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": keys, "Quiet": True},  # type: ignore[typeddict-item]
        )
        errors = [e for e in answer.get("Errors", []) if e.get("Code") != "NoSuchKey"]
        if errors:
            first = errors[0]
            raise InternalError(
                f"Could not delete {len(errors)} object(s) under '{rel}': "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )

    # -- multipart uploads straight to S3 (MLflow's MultipartUploadMixin) ---------------------
    def _multipart_target(self, path: str, filename: str) -> tuple[str, str]:
        # MLflow keys the upload by the basename of the client's local file; a
        # Windows client sends backslashes, which os.path.basename keeps on a
        # POSIX server, so both separators are split here.
        name = filename.replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            raise InvalidParameterValue(f"Invalid file name {filename!r} for a multipart upload.")
        return self._upload_target(join_artifact_path(clean_artifact_path(path), name))

    def create_multipart_upload(self, path: str, filename: str, num_parts: int) -> MultipartUpload:
        key, rel = self._multipart_target(path, filename)
        if not 1 <= num_parts <= MAX_PARTS:
            raise InvalidParameterValue(
                f"num_parts must be between 1 and {MAX_PARTS}, got {num_parts}."
            )
        self._check_tree(key, rel)
        created = self._call(rel, self.client.create_multipart_upload, Bucket=self.bucket, Key=key)
        upload_id = created["UploadId"]
        credentials = [
            MultipartCredential(
                url=self.client.generate_presigned_url(
                    "upload_part",
                    Params={
                        "Bucket": self.bucket,
                        "Key": key,
                        "PartNumber": number,
                        "UploadId": upload_id,
                    },
                    ExpiresIn=PRESIGNED_UPLOAD_TTL,
                ),
                part_number=number,
                headers={},
            )
            for number in range(1, num_parts + 1)
        ]
        return MultipartUpload(upload_id=upload_id, credentials=credentials)

    def complete_multipart_upload(
        self, path: str, filename: str, upload_id: str, parts: builtins.list[UploadedPart]
    ) -> None:
        key, rel = self._multipart_target(path, filename)
        if not upload_id:
            raise InvalidParameterValue("upload_id is required to complete a multipart upload.")
        if not parts:
            raise InvalidParameterValue("parts must list at least one uploaded part.")
        ordered = sorted(parts, key=lambda part: part.part_number)
        self._call(
            rel,
            self.client.complete_multipart_upload,
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in ordered]
            },
        )

    def abort_multipart_upload(self, path: str, filename: str, upload_id: str) -> None:
        key, rel = self._multipart_target(path, filename)
        if not upload_id:
            raise InvalidParameterValue("upload_id is required to abort a multipart upload.")
        self._call(
            rel, self.client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id
        )

    def presigned_download(self, path: str, expiration: int) -> PresignedDownload:
        """A GET URL on the object store, as MLflow's get_download_presigned_url builds it."""
        rel = clean_artifact_path(path, allow_root=False)
        key = self._key(rel)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _is_not_found(exc):
                self._not_a_file(rel)
            self._fail(exc, rel)
        url = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": _attachment(posixpath.basename(rel)),
            },
            ExpiresIn=expiration,
        )
        return PresignedDownload(url=url, headers={}, file_size=head["ContentLength"])


def _attachment(filename: str) -> str:
    """MLflow's Content-Disposition for presigned downloads: save, never render inline."""
    if not filename.isascii() or not filename.isprintable():
        return f"attachment; filename*=UTF-8''{quote(filename)}"
    escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
    return f'attachment; filename="{escaped}"'


def _total_size(content_range: str | None, length: int) -> int:
    """The object's size from `bytes 0-99/1234`; a server ignoring Range sends it all."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return length
