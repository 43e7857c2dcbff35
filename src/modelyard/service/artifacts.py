"""Artifact rules: which store and which path a request means, validated once.

Two families of requests reach artifacts, as in MLflow:

* the proxied API (`/api/2.0/mlflow-artifacts/...`), whose paths are relative to
  the server's artifact destination (`--artifacts-destination`); only available
  when the server serves artifacts;
* run-scoped requests (`artifacts/list`, `/get-artifact`, the UI's upload),
  which start from a run's `artifact_uri`: `mlflow-artifacts:/1/<run>/artifacts`
  maps into the proxied destination, while a `file://` URI or a plain path
  (experiments created with `--no-serve-artifacts`) is read where it points.

Every path goes through `clean_artifact_path` here, before any store sees it,
and the run's own location is cleaned too: an experiment's artifact location
is client-supplied, so `mlflow-artifacts:/../../etc` must not escape either.
"""

from __future__ import annotations

import builtins
import functools
import posixpath
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

import anyio
import anyio.to_thread

from modelyard.entities import RunInfo
from modelyard.errors import InvalidParameterValue, TemporarilyUnavailable
from modelyard.service.artifact_integrity import ArtifactIntegrity
from modelyard.store.artifacts import (
    ArtifactStore,
    FileInfo,
    MultipartUpload,
    StoredFile,
    UploadedPart,
    clean_artifact_path,
    join_artifact_path,
    open_artifact_store,
)
from modelyard.store.artifacts.base import PresignedDownload

if TYPE_CHECKING:
    from modelyard.store.artifacts.s3 import S3Connection

# MLflow's UI upload endpoint (upload-artifact) refuses bodies over 10 MB.
UI_UPLOAD_LIMIT = 10 * 1024 * 1024

# Proxied run roots: `mlflow-artifacts:/path` or an HTTP URL of this API.
_PROXIED_SCHEMES = ("mlflow-artifacts", "http", "https")
_HTTP_ANCHOR = "/api/2.0/mlflow-artifacts/artifacts/"


class RunLookup(Protocol):
    def get_run_info(self, run_id: str) -> RunInfo: ...


@dataclass(frozen=True, slots=True)
class Download:
    """A file ready to send, and the store that streams it when it is not local."""

    file: StoredFile
    store: ArtifactStore

    def chunks(self) -> AsyncIterator[bytes]:
        return self.store.get(self.file.path)


@dataclass(frozen=True, slots=True)
class ArtifactLocation:
    """Where an artifact URI points: `base` inside `store`; `root_uri` is the URI itself."""

    root_uri: str
    store: ArtifactStore
    base: str

    def at(self, relative: str) -> str:
        return join_artifact_path(self.base, relative)


class ArtifactService:
    def __init__(
        self,
        runs: RunLookup,
        proxied: ArtifactStore | None,
        open_store: Callable[[str], ArtifactStore] = open_artifact_store,
        integrity: ArtifactIntegrity | None = None,
    ) -> None:
        """`proxied` is the --artifacts-destination store; None when not serving artifacts.

        `integrity` records hashes and protects frozen files (artifact_integrity.py);
        without it the service stores bytes only, as MLflow does.
        """
        self.runs = runs
        self.proxied = proxied
        self.open_store = open_store
        self.integrity = integrity

    @property
    def serving(self) -> bool:
        return self.proxied is not None

    def _proxied(self) -> ArtifactStore:
        if self.proxied is None:
            # The HTTP layer answers MLflow's 503 text before getting here; this
            # guards other callers.
            raise TemporarilyUnavailable(
                "Artifact serving is disabled: the server runs with --no-serve-artifacts."
            )
        return self.proxied

    # -- the integrity hooks every entry point shares ------------------------------
    async def _put(self, store: ArtifactStore, rel: str, chunks: AsyncIterable[bytes]) -> int:
        """Store one file; with integrity on, refuse frozen files and record the hash."""
        integrity = self.integrity
        if integrity is None:
            return await store.put(rel, chunks)
        await anyio.to_thread.run_sync(integrity.check_writable, store, rel)
        digest = await store.put_hashed(rel, chunks)
        # The file is published: record its hash even if the client goes away now.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(integrity.record, store, rel, digest)
        return digest.size

    def _stat(self, store: ArtifactStore, rel: str, read_below: int) -> Download:
        stored = store.stat(rel, read_below=read_below)
        if self.integrity is not None:
            stored = self.integrity.with_digest(store, stored)
        return Download(stored, store)

    def _list(self, store: ArtifactStore, rel: str, prefix: str) -> list[FileInfo]:
        """Children of `rel` in `store`, named `prefix` + basename, with recorded hashes."""
        infos = store.list(rel)
        named = [
            FileInfo(prefix + posixpath.basename(info.path), info.is_dir, info.file_size)
            for info in infos
        ]
        if self.integrity is None:
            return named
        return self.integrity.with_digests(store, infos, named)

    def _delete(self, store: ArtifactStore, rel: str) -> None:
        if self.integrity is not None:
            self.integrity.check_deletable(store, rel)
        store.delete(rel)
        if self.integrity is not None:
            self.integrity.forget(store, rel)

    # -- the proxied API (/api/2.0/mlflow-artifacts) ---------------------------
    async def upload(self, path: str, chunks: AsyncIterable[bytes]) -> int:
        store = self._proxied()
        return await self._put(store, clean_artifact_path(path, allow_root=False), chunks)

    def download(self, path: str, *, read_below: int = 0) -> Download:
        store = self._proxied()
        return self._stat(store, clean_artifact_path(path, allow_root=False), read_below)

    def list(self, path: str | None) -> list[FileInfo]:
        """Children of `path` in the destination, named by basename as MLflow answers."""
        return self._list(self._proxied(), clean_artifact_path(path), "")

    def delete(self, path: str) -> None:
        self._delete(self._proxied(), clean_artifact_path(path, allow_root=False))

    def create_multipart_upload(self, path: str, filename: str, num_parts: int) -> MultipartUpload:
        store = self._proxied()
        return store.create_multipart_upload(clean_artifact_path(path), filename, num_parts)

    def complete_multipart_upload(
        self, path: str, filename: str, upload_id: str, parts: builtins.list[UploadedPart]
    ) -> None:
        store = self._proxied()
        store.complete_multipart_upload(clean_artifact_path(path), filename, upload_id, parts)

    def abort_multipart_upload(self, path: str, filename: str, upload_id: str) -> None:
        store = self._proxied()
        store.abort_multipart_upload(clean_artifact_path(path), filename, upload_id)

    def presigned_download(self, path: str, expiration: int) -> PresignedDownload:
        store = self._proxied()
        return store.presigned_download(clean_artifact_path(path, allow_root=False), expiration)

    # -- run-scoped requests -------------------------------------------------
    def run_artifacts(self, run_id: str) -> ArtifactLocation:
        """Resolve a run's artifact_uri to a store and a base path inside it."""
        return self.locate(self.runs.get_run_info(run_id).artifact_uri)

    def locate(self, uri: str) -> ArtifactLocation:
        """Resolve any artifact URI (a run's, a model version's source) to a store and base.

        `mlflow-artifacts:/p` and `http(s)://host/api/2.0/mlflow-artifacts/artifacts/p`
        map to `p` in the proxied destination, as MLflow's server resolves them; a
        file:// URI or a folder is read where it points (clients wrote there
        directly); other schemes get open_store's clear "not supported yet".
        """
        parsed = urlparse(uri)
        if parsed.scheme not in _PROXIED_SCHEMES:
            return ArtifactLocation(uri, self.open_store(uri), "")
        if self.proxied is None:
            raise InvalidParameterValue(
                f"The artifact location {uri} is proxied, but this server runs with "
                "--no-serve-artifacts, so it cannot reach it."
            )
        if parsed.scheme == "mlflow-artifacts":
            base = parsed.path
        elif _HTTP_ANCHOR in parsed.path:
            base = parsed.path.split(_HTTP_ANCHOR, 1)[1]
        else:
            raise InvalidParameterValue(
                f"The artifact location {uri} is not an mlflow-artifacts API URL."
            )
        return ArtifactLocation(uri, self.proxied, clean_artifact_path(base.lstrip("/")))

    def list_run_artifacts(
        self, run_id: str, path: str | None
    ) -> tuple[str, builtins.list[FileInfo]]:
        """(root_uri, files) with paths relative to the run's root, as MLflow's ListArtifacts."""
        rel = clean_artifact_path(path)
        where = self.run_artifacts(run_id)
        prefix = f"{rel}/" if rel else ""
        return where.root_uri, self._list(where.store, where.at(rel), prefix)

    def download_run_artifact(self, run_id: str, path: str, *, read_below: int = 0) -> Download:
        rel = clean_artifact_path(path, allow_root=False)
        where = self.run_artifacts(run_id)
        return self._stat(where.store, where.at(rel), read_below)

    async def upload_run_artifact(
        self,
        where: ArtifactLocation,
        path: str,
        chunks: AsyncIterable[bytes],
        *,
        limit: int = UI_UPLOAD_LIMIT,
    ) -> int:
        """Store one file under a run (the UI's upload); `where` from `run_artifacts`.

        MLflow's rules for this endpoint: the body must not be empty and must not
        exceed 10 MB. The limit is enforced while streaming, so an oversized body
        is refused without being held, and nothing is stored.
        """
        rel = clean_artifact_path(path, allow_root=False)
        stream = aiter(chunks)
        first = b""
        async for chunk in stream:
            if chunk:
                first = chunk
                break
        if not first:
            raise InvalidParameterValue("Request must specify data.")
        return await self._put(where.store, where.at(rel), _limited(first, stream, limit))


async def _limited(first: bytes, rest: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    size = len(first)
    if size > limit:
        raise _too_large(limit)
    yield first
    async for chunk in rest:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        yield chunk


def _too_large(limit: int) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Artifact size is too large. Max size is {limit // (1024 * 1024)}MB."
    )


def wire(services: Any) -> None:
    """Called by `create_app`: build the artifact service from the settings.

    One S3 connection (endpoint, addressing, checksums; a boto3 client made on
    first use) serves the destination and any s3:// experiment location.
    """
    settings = services.settings

    @functools.cache
    def s3_connection() -> S3Connection:
        """Made at the first s3:// location: boto3 is heavy to import."""
        from modelyard.store.artifacts.s3 import S3Connection, S3Options

        return S3Connection(
            S3Options.resolve(
                endpoint_url=settings.s3_endpoint_url,
                addressing_style=settings.s3_addressing_style,
                checksums=settings.s3_checksums,
            )
        )

    def open_store(location: str) -> ArtifactStore:
        is_s3 = urlparse(location).scheme == "s3"
        return open_artifact_store(location, s3=s3_connection() if is_s3 else None)

    proxied = open_store(settings.artifacts_root) if settings.serve_artifacts else None
    from modelyard.store.sql.artifact_digests import SqlArtifactDigests
    from modelyard.store.sql.manifests import SqlManifests

    integrity = ArtifactIntegrity(
        SqlArtifactDigests(services.db), SqlManifests(services.db), services.clock
    )
    services.artifacts = ArtifactService(services.tracking, proxied, open_store, integrity)
