"""Frozen version manifests (tables `version_manifests`, `manifest_files`).

A manifest is written once, when its version is registered, and never
updated; it disappears with its version (ON DELETE CASCADE). Versions are
named by (registered model name, version) here and stored by the model's
surrogate key, so a rename keeps them attached.
"""

from __future__ import annotations

from modelyard.errors import ResourceDoesNotExist
from modelyard.integrity_entities import Manifest, ManifestFile
from modelyard.store.artifacts.paths import join_artifact_path
from modelyard.store.sql.artifact_digests import under
from modelyard.store.sql.db import Database, Tx

# (model name, version) of a live version owning a file.
Owner = tuple[str, int]


def _model_key(tx: Tx, name: str) -> int:
    key = tx.scalar("SELECT model_key FROM registered_models WHERE name = ?", (name,))
    if key is None:
        raise ResourceDoesNotExist(f"Registered Model with name={name} not found")
    return int(key)


class SqlManifests:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, manifest: Manifest) -> None:
        """Store a version's manifest; a second save for the same version is a no-op.

        The version may have been deleted meanwhile (the foreign key then refuses
        the row): that is not an error either, there is nothing left to freeze.
        """
        with self.db.write() as tx:
            key = _model_key(tx, manifest.name)
            exists = tx.scalar(
                "SELECT count(*) FROM model_versions WHERE model_key = ? AND version = ?",
                (key, manifest.version),
            )
            done = tx.scalar(
                "SELECT count(*) FROM version_manifests WHERE model_key = ? AND version = ?",
                (key, manifest.version),
            )
            if not exists or done:
                return
            tx.execute(
                "INSERT INTO version_manifests (model_key, version, store, base, digest, "
                "file_count, total_size, created_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    manifest.version,
                    manifest.store,
                    manifest.base,
                    manifest.digest,
                    len(manifest.files),
                    manifest.total_size,
                    manifest.created_at,
                    manifest.note,
                ),
            )
            tx.executemany(
                "INSERT INTO manifest_files (model_key, version, path, store, full_path, "
                "size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        key,
                        manifest.version,
                        f.path,
                        manifest.store,
                        join_artifact_path(manifest.base, f.path),
                        f.size,
                        f.sha256,
                    )
                    for f in manifest.files
                ],
            )

    def get(self, name: str, version: int) -> Manifest | None:
        with self.db.read() as tx:
            key = _model_key(tx, name)
            row = tx.one(
                "SELECT store, base, digest, created_at, note FROM version_manifests "
                "WHERE model_key = ? AND version = ?",
                (key, version),
            )
            if row is None:
                return None
            files = tx.all(
                "SELECT path, size, sha256 FROM manifest_files "
                "WHERE model_key = ? AND version = ? ORDER BY path",
                (key, version),
            )
        return Manifest(
            name=name,
            version=version,
            store=str(row[0]),
            base=str(row[1]),
            digest=str(row[2]),
            files=tuple(ManifestFile(str(p), int(s), str(h)) for p, s, h in files),
            created_at=int(row[3]),
            note=None if row[4] is None else str(row[4]),
        )

    def owner_of(self, store: str, path: str, *, below: bool = False) -> Owner | None:
        """A live version that froze the file at `path` (or, with `below`, any file under it)."""
        condition, params = under(path, "f.full_path") if below else ("f.full_path = ?", (path,))
        with self.db.read() as tx:
            row = tx.one(
                "SELECT rm.name, f.version FROM manifest_files f "
                "JOIN registered_models rm ON rm.model_key = f.model_key "
                f"WHERE f.store = ? AND {condition} LIMIT 1",
                (store, *params),
            )
        return None if row is None else (str(row[0]), int(row[1]))
