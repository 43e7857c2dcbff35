"""Integrity rules on the artifact paths: hashes recorded, frozen files protected.

The artifact service consults this object around every write, delete, read
and listing it performs (when it is wired, which `create_app` always does):

* before an upload or a delete, a file that a live model version froze in its
  manifest may not be overwritten or removed (`ResourceConflict`, 409, naming
  the version): a registered version keeps exactly the bytes it was registered with;
* after an upload, the size and SHA-256 computed while the bytes streamed in
  are recorded; after a delete, the records of the removed files go;
* a download or a listing gets the recorded hash added, so the HTTP layer can
  send `Repr-Digest`/`ETag` and the listing's `sha256` field.

Files that reach a store without passing through the server (clients writing
to a `file://` location directly, multipart uploads sent straight to S3) have
no recorded hash until a manifest or `verify` reads them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Protocol

from modelyard.errors import ResourceConflict
from modelyard.store.artifacts import ArtifactStore, FileInfo, StoredFile
from modelyard.store.artifacts.hashing import Digest

Owner = tuple[str, int]


class DigestRecords(Protocol):
    def record(self, store: str, path: str, digest: Digest, now: int) -> None: ...
    def get(self, store: str, path: str) -> Digest | None: ...
    def get_many(self, store: str, paths: Sequence[str]) -> dict[str, Digest]: ...
    def forget(self, store: str, path: str) -> int: ...


class FrozenFiles(Protocol):
    def owner_of(self, store: str, path: str, *, below: bool = False) -> Owner | None: ...


class ArtifactIntegrity:
    def __init__(
        self, digests: DigestRecords, frozen: FrozenFiles, clock: Callable[[], int]
    ) -> None:
        self.digests = digests
        self.frozen = frozen
        self.clock = clock

    # -- writes -------------------------------------------------------------------
    def check_writable(self, store: ArtifactStore, path: str) -> None:
        owner = self.frozen.owner_of(store.location, path)
        if owner is not None:
            raise _frozen(path, owner, "overwritten")

    def check_deletable(self, store: ArtifactStore, path: str) -> None:
        owner = self.frozen.owner_of(store.location, path, below=True)
        if owner is not None:
            raise _frozen(path, owner, "deleted")

    def record(self, store: ArtifactStore, path: str, digest: Digest) -> None:
        self.digests.record(store.location, path, digest, self.clock())

    def forget(self, store: ArtifactStore, path: str) -> None:
        self.digests.forget(store.location, path)

    # -- reads ----------------------------------------------------------------------
    def recorded(self, store: ArtifactStore, path: str) -> Digest | None:
        return self.digests.get(store.location, path)

    def with_digest(self, store: ArtifactStore, stored: StoredFile) -> StoredFile:
        """`stored` with its hash: the backend's own (S3 metadata) or the recorded one."""
        if stored.sha256 is not None:
            return stored
        digest = self.digests.get(store.location, stored.path)
        if digest is None:
            return stored
        return dataclasses.replace(stored, sha256=digest.sha256)

    def with_digests(
        self, store: ArtifactStore, infos: list[FileInfo], names: list[FileInfo]
    ) -> list[FileInfo]:
        """`names` (what the caller answers) with the hashes of the files `infos` list.

        `infos` come straight from the store (paths in the store); `names` are the
        same entries, renamed as the API answers them, in the same order.
        """
        found = self.digests.get_many(store.location, [i.path for i in infos if not i.is_dir])
        return [
            dataclasses.replace(name, sha256=found[info.path].sha256)
            if info.path in found
            else name
            for info, name in zip(infos, names, strict=True)
        ]


def _frozen(path: str, owner: Owner, action: str) -> ResourceConflict:
    name, version = owner
    return ResourceConflict(
        f"Artifact '{path}' belongs to registered model '{name}' version {version} and "
        f"cannot be {action}: registered versions are immutable. Log the new files under "
        "another path or run, or delete the model version first."
    )
