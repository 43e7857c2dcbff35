"""Artifact stores: where artifact files live (a local folder today, S3 next).

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

__all__ = [
    "CHUNK_SIZE",
    "ArtifactStore",
    "FileInfo",
    "LocalArtifactStore",
    "MultipartCredential",
    "MultipartUpload",
    "PresignedDownload",
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


def open_artifact_store(location: str) -> ArtifactStore:
    """The store for an artifact location: a folder path, `file://` URI, (later) `s3://`."""
    folder = local_path_of(location)
    if folder is not None:
        return LocalArtifactStore(folder)
    scheme = urlparse(location).scheme
    raise NotImplementedByServer(
        f"Artifact location {location!r} uses the {scheme}:// scheme, which this server "
        "cannot read or write yet; only local folders and file:// URIs are supported."
    )
