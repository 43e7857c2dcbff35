"""The artifact store contract: what every artifact backend (local folder, S3) provides.

Paths are relative artifact paths with '/' separators ("1/<run>/artifacts/model.pkl");
every implementation passes them through `paths.clean_artifact_path`.

Data moves in streams, never whole: `put` consumes an async or sync iterable of
chunks and publishes the object atomically (a broken upload leaves nothing),
`get` yields chunks. Metadata operations (`list`, `stat`, `delete`, `exists`)
are synchronous because handlers already run them on the thread pool and the
backends we target (files, boto3) are synchronous.

Multipart-upload hooks exist for backends that can accept parts directly from
clients (S3); the default answers exactly as MLflow does for a repository
without multipart support, because MLflow's client recognises that message and
falls back to a single streamed PUT.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from modelyard.errors import NotImplementedByServer
from modelyard.store.artifacts.hashing import Digest, HashingStream

# Big enough that a 100 MB transfer is ~100 system calls and thread hops, small
# enough that a thousand concurrent transfers fit in memory.
CHUNK_SIZE = 1024 * 1024

# Name prefix of in-flight uploads. It is MLflow's prefix, so a folder shared
# with an `mlflow server` hides both servers' partial files from listings.
TEMP_PREFIX = ".artifact.uploading."

# MLflow's client compares error messages with these (startswith), so the
# wording must stay exactly MLflow's.
MULTIPART_UPLOAD_UNSUPPORTED = (
    "Multipart upload is not supported for the current artifact repository"
)
MULTIPART_DOWNLOAD_UNSUPPORTED = (
    "Multipart download is not supported for the current artifact repository"
)

Chunks = AsyncIterable[bytes] | Iterable[bytes]


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a listing: `path` relative to the store root; no size for directories.

    `sha256` is the content hash recorded when the file was uploaded through the
    server (filled in by the artifact service from the database), else None.
    """

    path: str
    is_dir: bool
    file_size: int | None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file found by `stat`, with what a server needs to send it cheaply.

    `local_path` is set when the bytes sit on a local disk, so the HTTP layer can
    send the file itself (sendfile, ranges); `content` holds the whole file when
    the caller asked for small files to be read eagerly (one thread hop instead
    of several for the many-small-files case). `sha256` is the content hash when
    the backend keeps it beside the bytes (S3 object metadata) or the service
    found it in the database.
    """

    path: str
    size: int
    modified: float
    local_path: Path | None = None
    content: bytes | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class MultipartCredential:
    """Where a client sends one part of a multipart upload."""

    url: str
    part_number: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    upload_id: str | None
    credentials: list[MultipartCredential]


@dataclass(frozen=True, slots=True)
class UploadedPart:
    part_number: int
    etag: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class PresignedDownload:
    url: str
    headers: dict[str, str]
    file_size: int | None


class ArtifactStore(ABC):
    """A tree of artifact files under one root."""

    @abstractmethod
    async def put(self, path: str, chunks: Chunks) -> int:
        """Store the file at `path` from a stream of chunks; return its size.

        The file appears all at once when the stream ends; if the stream raises
        (client gone, size limit) nothing is left behind and an earlier file at
        `path` is untouched.
        """

    async def put_hashed(self, path: str, chunks: Chunks) -> Digest:
        """`put`, computing the content's size and SHA-256 as the chunks stream past.

        Backends that keep the hash with the object (S3 metadata) override this.
        """
        stream = HashingStream(chunks)
        await self.put(path, stream.view())
        return stream.digest()

    @property
    @abstractmethod
    def location(self) -> str:
        """A stable name of this store's root (a folder path, `s3://bucket/prefix`).

        Recorded content hashes are keyed by (location, path), so two stores over
        the same root share them.
        """

    @abstractmethod
    def stat(self, path: str, *, read_below: int = 0) -> StoredFile:
        """The file at `path`, with its content when smaller than `read_below` bytes.

        Raises ResourceDoesNotExist when there is no such file and
        InvalidParameterValue when `path` is a directory.
        """

    @abstractmethod
    def get(self, path: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Stream the file at `path` in chunks of at most `chunk_size` bytes."""

    @abstractmethod
    def open(self, path: str) -> BinaryIO:
        """Open the file at `path` for synchronous streaming reads."""

    @abstractmethod
    def list(self, path: str = "") -> builtins.list[FileInfo]:
        """Direct children of the directory `path`, sorted by path.

        As MLflow does, a missing path or a file lists as empty.
        """

    @abstractmethod
    def delete(self, path: str) -> None:
        """Delete the file or directory tree at `path`; a missing path is not an error."""

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    def remove_abandoned_uploads(self, idle_seconds: float) -> int:
        """Remove what uploads cut short by a crash left behind; return how many.

        A killed server cannot clean up after itself, so this runs at the next
        start-up. It must never touch an upload still in progress, by this
        process or by another server sharing the store; `idle_seconds` is how
        long an upload must have shown no activity where the backend cannot
        tell otherwise (S3). Stores that leave nothing behind keep this no-op.
        """
        return 0

    # -- multipart uploads (MLflow's MultipartUploadMixin); local stores lack it --
    def create_multipart_upload(self, path: str, filename: str, num_parts: int) -> MultipartUpload:
        raise NotImplementedByServer(MULTIPART_UPLOAD_UNSUPPORTED)

    def complete_multipart_upload(
        self, path: str, filename: str, upload_id: str, parts: builtins.list[UploadedPart]
    ) -> None:
        raise NotImplementedByServer(MULTIPART_UPLOAD_UNSUPPORTED)

    def abort_multipart_upload(self, path: str, filename: str, upload_id: str) -> None:
        raise NotImplementedByServer(MULTIPART_UPLOAD_UNSUPPORTED)

    def presigned_download(self, path: str, expiration: int) -> PresignedDownload:
        raise NotImplementedByServer(MULTIPART_DOWNLOAD_UNSUPPORTED)
