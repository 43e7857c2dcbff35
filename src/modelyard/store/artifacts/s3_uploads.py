"""Writing to S3: streamed uploads through the server, multipart uploads sent by clients
straight to the object store, and the sweep of uploads a crash left behind.

* **Atomic publication** is S3's own: an object appears when PutObject or
  CompleteMultipartUpload returns, and an earlier object at the key stays
  readable until then. Small bodies (below one part) go up in one PutObject;
  larger ones stream as a multipart upload, holding about two parts in memory at a
  time, and any failure or cancellation aborts the upload so that nothing is
  left behind (not even invisible parts that would be billed).
* **Multipart endpoints** (`mpu/create|complete|abort`) hand out presigned
  UploadPart URLs, exactly as MLflow's S3ArtifactRepository does, so clients
  send parts straight to the object store and never through this server.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from modelyard.errors import InvalidParameterValue
from modelyard.store.artifacts import hashing
from modelyard.store.artifacts.base import (
    Chunks,
    MultipartCredential,
    MultipartUpload,
    UploadedPart,
)
from modelyard.store.artifacts.paths import clean_artifact_path, join_artifact_path
from modelyard.store.artifacts.s3_objects import S3Objects

log = logging.getLogger("modelyard.store.artifacts.s3")

MAX_PARTS = 10_000

# Lifetime of presigned UploadPart URLs (boto3's default, as MLflow uses).
PRESIGNED_UPLOAD_TTL = 3600


@dataclass
class _Writer:
    """One object being written: one PutObject when small, else a multipart upload.

    Synchronous; the async `put` hands it whole parts, one thread hop each.
    """

    store: S3Objects
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


class S3Uploads(S3Objects):
    """The writing half of the S3 artifact store (`s3.S3ArtifactStore` is the whole)."""

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
