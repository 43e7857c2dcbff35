"""Artifact stores: where artifact files live (a local folder, an S3-compatible bucket).

`open_artifact_store(location)` is the one place a location string becomes a
store, so adding a backend means adding a branch here and a parameter to the
shared test suite (`tests/store/test_artifact_store.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
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


if TYPE_CHECKING:
    from modelyard.store.artifacts.s3 import S3ArtifactStore, S3Connection, S3Options


def __getattr__(name: str) -> Any:
    """The S3 names, imported on first use: the S3 store brings boto3's machinery,
    which a server keeping artifacts in a folder never needs."""
    if name in ("S3ArtifactStore", "S3Connection", "S3Options"):
        from modelyard.store.artifacts import s3

        return getattr(s3, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        from modelyard.store.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore.from_uri(location, s3)
    raise NotImplementedByServer(
        f"Artifact location {location!r} uses the {scheme}:// scheme, which this server "
        "cannot read or write; only local folders, file:// URIs and s3:// are supported."
    )
