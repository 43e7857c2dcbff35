"""Entities of artifact integrity: frozen version manifests and what verifying them found.

Frozen dataclasses that know nothing of JSON or SQL, like the other entities.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ManifestFile:
    """One file of a version: `path` relative to the version's root."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """A model version's files as they were when it was registered.

    `store` and `base` say where they live (the artifact store's location and
    the version's folder in it). `digest` is one SHA-256 over the sorted list
    (see `manifest_digest`), so two versions with the same files have the same
    digest. `note` explains an empty manifest whose files could not be read.
    """

    name: str
    version: int
    store: str
    base: str
    digest: str
    files: tuple[ManifestFile, ...]
    created_at: int
    note: str | None = None

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


def manifest_digest(files: Iterable[ManifestFile]) -> str:
    """SHA-256 over `<sha256> <size> <path>\\n` lines sorted by path.

    Paths are artifact paths (no newlines: the path rules refuse control
    characters), so the line format is unambiguous and easy to reproduce with
    `sha256sum`-style tools.
    """
    hasher = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        hasher.update(f"{f.sha256} {f.size} {f.path}\n".encode())
    return hasher.hexdigest()


@dataclass(frozen=True, slots=True)
class FileDifference:
    """A file whose content no longer matches its manifest entry.

    `problem` is `changed` (size or hash differ), `missing` (gone) or `added`
    (present now, not frozen). `expected`/`found` are the hashes, when known.
    """

    path: str
    problem: str
    expected_sha256: str | None = None
    found_sha256: str | None = None
    expected_size: int | None = None
    found_size: int | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of re-reading a version's files against its manifest."""

    name: str
    version: int
    digest: str
    checked: int
    differences: tuple[FileDifference, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Every frozen file is there with its frozen content; added files are reported only."""
        return not any(d.problem != "added" for d in self.differences)
