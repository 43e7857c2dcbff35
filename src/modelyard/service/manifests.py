"""Frozen manifests of model versions: what a version's files were when it was registered.

Registering a version (`RegistryService.create_model_version`) calls `freeze`,
which walks the version's folder, takes each file's size and SHA-256 (the hash
recorded when it was uploaded through the server, or read now when there is
none) and stores the list with one digest over the whole. From then on the
artifact service refuses to overwrite or delete those files
(`artifact_integrity.py`), and `verify` re-reads them to prove they are intact.

Freezing never makes a registration fail: a version whose files cannot be read
(a source this server cannot reach, a prompt, a folder that is not there yet)
gets an empty manifest with a note saying why, and the registration proceeds
as MLflow's would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from modelyard.errors import (
    InvalidParameterValue,
    ModelyardError,
    PermissionDenied,
    ResourceDoesNotExist,
)
from modelyard.integrity_entities import (
    FileDifference,
    Manifest,
    ManifestFile,
    Verification,
    manifest_digest,
)
from modelyard.registry_entities import ModelVersion
from modelyard.service.access import Access
from modelyard.service.artifacts import ArtifactLocation
from modelyard.store.artifacts import ArtifactStore, join_artifact_path
from modelyard.store.artifacts.hashing import Digest, hash_file
from modelyard.store.sql.manifests import SqlManifests

log = logging.getLogger("modelyard.service.manifests")

# Sources that name no files (MLflow's prompt placeholders).
_NO_FILES = frozenset({"dummy-source", "prompt-template"})


class Registry(Protocol):
    on_version_created: list[Callable[[ModelVersion], None]]

    def get_model_version(self, name: str | None, version: str | int | None) -> ModelVersion: ...
    def get_latest_versions(self, name: str | None, stages: Any = ()) -> list[ModelVersion]: ...
    def get_version_by_alias(self, name: str | None, alias: str | None) -> ModelVersion: ...
    def version_location(self, mv: ModelVersion) -> ArtifactLocation: ...


class Digests(Protocol):
    def record(self, store: str, path: str, digest: Digest, now: int) -> None: ...
    def get(self, store: str, path: str) -> Digest | None: ...


def walk_files(store: ArtifactStore, base: str) -> list[tuple[str, int | None]]:
    """(path relative to `base`, size) of every file under `base`, depth first."""
    out: list[tuple[str, int | None]] = []
    pending = [base]
    while pending:
        folder = pending.pop()
        for info in store.list(folder):
            if info.is_dir:
                pending.append(info.path)
            else:
                rel = info.path[len(base) + 1 :] if base else info.path
                out.append((rel, info.file_size))
    out.sort()
    return out


class ManifestService:
    def __init__(
        self,
        registry: Registry,
        manifests: SqlManifests,
        digests: Digests,
        open_store: Callable[[str], ArtifactStore],
        access: Callable[[], Access],
        clock: Callable[[], int],
    ) -> None:
        self.registry = registry
        self.manifests = manifests
        self.digests = digests
        self.open_store = open_store
        self.access = access
        self.clock = clock

    # -- freezing -------------------------------------------------------------------
    def freeze(self, mv: ModelVersion) -> Manifest:
        """Record `mv`'s files; called once, right after the version is stored."""
        manifest = self._build(mv)
        self.manifests.save(manifest)
        return manifest

    def _build(self, mv: ModelVersion) -> Manifest:
        def empty(note: str, store: str = "", base: str = "") -> Manifest:
            return Manifest(mv.name, mv.version, store, base, manifest_digest(()), (), now, note)

        now = self.clock()
        if mv.source in _NO_FILES:
            return empty("This version names no files (a prompt).")
        try:
            where = self.registry.version_location(mv)
            store = where.store
            files = [
                self._file_digest(store, where.base, rel, size)
                for rel, size in walk_files(store, where.base)
            ]
        except (ModelyardError, OSError) as exc:
            log.warning("no manifest for %s version %s: %s", mv.name, mv.version, exc)
            message = exc.message if isinstance(exc, ModelyardError) else str(exc)
            return empty(f"The files could not be read when the version was registered: {message}")
        if not files:
            return empty(
                f"No files were found at {mv.download_uri} when the version was registered.",
                store.location,
                where.base,
            )
        return Manifest(
            mv.name,
            mv.version,
            store.location,
            where.base,
            manifest_digest(files),
            tuple(files),
            now,
        )

    def _file_digest(
        self, store: ArtifactStore, base: str, rel: str, size: int | None
    ) -> ManifestFile:
        """The recorded hash when it matches the listed size, else one read of the file."""
        full = join_artifact_path(base, rel)
        digest = self.digests.get(store.location, full)
        if digest is None or (size is not None and digest.size != size):
            with store.open(full) as file:
                digest = hash_file(file)
            self.digests.record(store.location, full, digest, self.clock())
        return ManifestFile(rel, digest.size, digest.sha256)

    # -- reading ----------------------------------------------------------------------
    def find_version(
        self,
        name: str | None,
        version: str | None = None,
        *,
        user: str | None = None,
    ) -> ModelVersion:
        """A version named by number, stage (`Production`) or alias (`@champion`)."""
        if not name:
            raise InvalidParameterValue("Missing value for required parameter 'name'.")
        if not self.access().can_read_model(user, name):
            raise PermissionDenied(f"You may not read registered model '{name}'.")
        if not version:
            raise InvalidParameterValue(
                "Missing value for required parameter 'version': give a version number, "
                "a stage (Staging, Production) or an alias (@name)."
            )
        if version.startswith("@"):
            return self.registry.get_version_by_alias(name, version[1:])
        if version.isdigit():
            return self.registry.get_model_version(name, version)
        holders = self.registry.get_latest_versions(name, [version])
        if not holders:
            raise ResourceDoesNotExist(f"Registered model '{name}' has no version in {version}.")
        return max(holders, key=lambda mv: mv.version)

    def get(self, name: str | None, version: str | None, user: str | None = None) -> Manifest:
        mv = self.find_version(name, version, user=user)
        manifest = self.manifests.get(mv.name, mv.version)
        if manifest is None:
            raise ResourceDoesNotExist(
                f"Model version {mv.name} version {mv.version} has no manifest: it was "
                "registered before this server recorded manifests."
            )
        return manifest

    def find(self, mv: ModelVersion) -> Manifest | None:
        """The manifest of a version already fetched (the UI's version page)."""
        return self.manifests.get(mv.name, mv.version)

    # -- verifying ----------------------------------------------------------------------
    def verify(
        self, name: str | None, version: str | None, user: str | None = None
    ) -> Verification:
        """Re-read every frozen file and compare it with the manifest.

        Reports files that changed or went missing (the version is then not
        intact) and files added to its folder since (reported, not a failure:
        additions do not alter the frozen files).
        """
        manifest = self.get(name, version, user)
        differences: list[FileDifference] = []
        if manifest.store:
            store = self.open_store(manifest.store)
            for frozen in manifest.files:
                differences.extend(self._check(store, manifest.base, frozen))
            known = {f.path for f in manifest.files}
            differences.extend(
                FileDifference(rel, "added", found_size=size)
                for rel, size in walk_files(store, manifest.base)
                if rel not in known
            )
        return Verification(
            manifest.name,
            manifest.version,
            manifest.digest,
            len(manifest.files),
            tuple(differences),
        )

    @staticmethod
    def _check(store: ArtifactStore, base: str, frozen: ManifestFile) -> list[FileDifference]:
        try:
            with store.open(join_artifact_path(base, frozen.path)) as file:
                found = hash_file(file)
        except ResourceDoesNotExist:
            return [
                FileDifference(frozen.path, "missing", frozen.sha256, expected_size=frozen.size)
            ]
        if found == Digest(frozen.size, frozen.sha256):
            return []
        return [
            FileDifference(
                frozen.path, "changed", frozen.sha256, found.sha256, frozen.size, found.size
            )
        ]


def wire(services: Any) -> None:
    """Called by `create_app` after the registry: freeze each new version's files."""
    if services.registry is None or services.artifacts is None:
        return
    integrity = services.artifacts.integrity
    service = ManifestService(
        services.registry,
        SqlManifests(services.db),
        integrity.digests,
        services.artifacts.open_store,
        # Looked up per call: authentication may replace the policy after wiring.
        lambda: services.access,
        services.clock,
    )
    services.registry.on_version_created.append(service.freeze)
    services.extra["manifests"] = service
