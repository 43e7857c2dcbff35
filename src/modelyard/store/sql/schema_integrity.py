"""Schema of content hashes and frozen version manifests (migration 0007_integrity).

* `artifact_digests`: the size and SHA-256 of every file stored through the
  server, keyed by the store's location and the file's path in it, written when
  the upload completes and removed when the file is deleted through the server.
* `version_manifests` / `manifest_files`: what a model version's files were
  when it was registered. They hang off `model_versions` with ON DELETE
  CASCADE, so a deleted version releases its files and a live one always has
  its manifest. `manifest_files.full_path` (the file's path in its store) is
  indexed with the store, so "does a live version own this file?" is one
  index lookup on every upload and delete.
"""

from __future__ import annotations

INTEGRITY_MIGRATION_NAME = "0007_integrity"

INTEGRITY_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE artifact_digests (
        store TEXT NOT NULL,
        path TEXT NOT NULL,
        size BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        recorded_at BIGINT NOT NULL,
        PRIMARY KEY (store, path)
    ) {without_rowid}""",
    """CREATE TABLE version_manifests (
        model_key BIGINT NOT NULL,
        version BIGINT NOT NULL,
        store TEXT NOT NULL,
        base TEXT NOT NULL,
        digest TEXT NOT NULL,
        file_count BIGINT NOT NULL,
        total_size BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        note TEXT,
        PRIMARY KEY (model_key, version),
        FOREIGN KEY (model_key, version)
            REFERENCES model_versions(model_key, version) ON DELETE CASCADE
    ) {without_rowid}""",
    """CREATE TABLE manifest_files (
        model_key BIGINT NOT NULL,
        version BIGINT NOT NULL,
        path TEXT NOT NULL,
        store TEXT NOT NULL,
        full_path TEXT NOT NULL,
        size BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (model_key, version, path),
        FOREIGN KEY (model_key, version)
            REFERENCES version_manifests(model_key, version) ON DELETE CASCADE
    ) {without_rowid}""",
    "CREATE INDEX manifest_files_by_location ON manifest_files (store, full_path)",
)
