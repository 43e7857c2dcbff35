"""Artifacts as objects in an S3-compatible bucket (AWS S3, SeaweedFS, Ceph radosgw, MinIO …).

Keys follow MLflow's layout under the destination's prefix
(`s3://bucket/prefix` + `/1/<run>/artifacts/model.pkl`), so a bucket written by
`mlflow server --artifacts-destination s3://…` and one written by us are
interchangeable.

The store is built in layers, one module per concept:

* `s3_connection`: settings, the shared boto3 client, `s3://` locations;
* `s3_errors`: S3's error codes translated once into modelyard's errors;
* `s3_objects`: keys under the prefix and the file-versus-directory checks;
* `s3_uploads`: streamed and client multipart uploads, atomic publication,
  the sweep of abandoned multipart uploads;
* here: reading, listing, deleting and presigned downloads, which complete the
  `ArtifactStore` interface.
"""

from __future__ import annotations

import builtins
import io
import posixpath
from collections.abc import AsyncIterator
from typing import Any, BinaryIO
from urllib.parse import quote

import anyio.to_thread

from modelyard.errors import InternalError, ModelyardError
from modelyard.store.artifacts import hashing
from modelyard.store.artifacts.base import (
    CHUNK_SIZE,
    ArtifactStore,
    FileInfo,
    PresignedDownload,
    StoredFile,
)
from modelyard.store.artifacts.paths import clean_artifact_path
from modelyard.store.artifacts.s3_connection import (
    ADDRESSING_STYLES,
    CHECKSUM_MODES,
    DEFAULT_PART_SIZE,
    MIN_PART_SIZE,
    S3Connection,
    S3Options,
    parse_s3_uri,
)
from modelyard.store.artifacts.s3_errors import error_code, is_not_found
from modelyard.store.artifacts.s3_uploads import MAX_PARTS, PRESIGNED_UPLOAD_TTL, S3Uploads

__all__ = [
    "ADDRESSING_STYLES",
    "CHECKSUM_MODES",
    "DEFAULT_PART_SIZE",
    "MAX_PARTS",
    "MIN_PART_SIZE",
    "PRESIGNED_UPLOAD_TTL",
    "S3ArtifactStore",
    "S3Connection",
    "S3Options",
    "parse_s3_uri",
]


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


class S3ArtifactStore(S3Uploads, ArtifactStore):
    """Objects under `s3://bucket/prefix`; the bucket must exist."""

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
            if is_not_found(exc):
                self._not_a_file(rel)
            if error_code(exc) == "InvalidRange":  # an empty object has no byte 0
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
            if is_not_found(exc):
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
            if is_not_found(exc) and error_code(exc) != "NoSuchBucket":
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

    def presigned_download(self, path: str, expiration: int) -> PresignedDownload:
        """A GET URL on the object store, as MLflow's get_download_presigned_url builds it."""
        rel = clean_artifact_path(path, allow_root=False)
        key = self._key(rel)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if is_not_found(exc):
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
