"""Checking downloads against the content hash the server sends.

The server sends `Repr-Digest: sha-256=:…:` (RFC 9530) with every artifact
whose hash it recorded; the light client hashes the bytes as they arrive and
refuses the file when they differ, so a corrupted disk, a truncated transfer
or a file changed behind the registry's back never lands silently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from modelyard.errors import ModelyardError
from modelyard.store.artifacts.hashing import parse_repr_digest


class DigestMismatch(ModelyardError):
    """Downloaded bytes differ from the hash the server recorded for them.

    MLflow's DATA_LOSS code (HTTP 500): the stored content is not what was stored.
    """

    code = "DATA_LOSS"


class DownloadCheck:
    """Feed it the chunks of one download; `finish()` raises on a mismatch."""

    def __init__(self, where: str, headers: Mapping[str, str]) -> None:
        self.where = where
        self.expected = parse_repr_digest(headers.get("repr-digest"))
        self._hash = hashlib.sha256() if self.expected is not None else None
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._hash is not None:
            self._hash.update(chunk)

    def finish(self) -> None:
        if self._hash is None or self.expected is None:
            return
        found = self._hash.hexdigest()
        if found != self.expected:
            raise DigestMismatch(
                f"Integrity check failed for {self.where}: the server recorded SHA-256 "
                f"{self.expected} but the {self.size} bytes received hash to {found}. "
                "The stored file is damaged or was changed outside the server; the "
                "download was discarded."
            )
