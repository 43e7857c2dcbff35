"""Artifact stores: where artifact files live (a local folder, an S3-compatible bucket).

`open_artifact_store(location)` is the one place a location string becomes a
store, so adding a backend means adding a branch here and a parameter to the
shared test suite (`tests/store/test_artifact_store.py`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from modelyard.errors import NotImplementedByServer
from modelyard.store.artifacts.base import (
    CHUNK_SIZE,
    ArtifactStore,
    FileInfo,
    MultipartCredential,
    MultipartUpload,
    PresignedDownload,
    StoredFile,
    UploadedPart,
)
from modelyard.store.artifacts.local import LocalArtifactStore
from modelyard.store.artifacts.paths import clean_artifact_path, join_artifact_path
from modelyard.store.artifacts.s3 import S3ArtifactStore, S3Connection, S3Options

__all__ = [
    "CHUNK_SIZE",
    "ArtifactStore",
    "FileInfo",
    "LocalArtifactStore",
    "MultipartCredential",
    "MultipartUpload",
    "PresignedDownload",
    "S3ArtifactStore",
    "S3Connection",
    "S3Options",
    "StoredFile",
    "UploadedPart",
    "clean_artifact_path",
    "join_artifact_path",
    "local_path_of",
    "open_artifact_store",
]


def local_path_of(location: str) -> Path | None:
    """The folder a `file://` URI or plain path names; None for other schemes."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    # A one-letter "scheme" is a Windows drive (C:\\runs), not a URI.
    if parsed.scheme == "" or len(parsed.scheme) == 1:
        return Path(location)
    return None


def open_artifact_store(location: str, *, s3: S3Connection | None = None) -> ArtifactStore:
    """The store for an artifact location: a folder path, `file://` URI or `s3://bucket/prefix`.

    `s3` is the shared S3 client settings (endpoint, addressing, checksums); without
    it an s3:// location gets one resolved from the environment alone.
    """
    folder = local_path_of(location)
    if folder is not None:
        return LocalArtifactStore(folder)
    scheme = urlparse(location).scheme
    if scheme == "s3":
        return S3ArtifactStore.from_uri(location, s3)
    raise NotImplementedByServer(
        f"Artifact location {location!r} uses the {scheme}:// scheme, which this server "
        "cannot read or write; only local folders, file:// URIs and s3:// are supported."
    )
