"""`modelyard backup` / `modelyard restore`: one folder holding the database and the artifacts.

For the single-host deployment (SQLite and a local artifact folder), taken
while the server runs:

1. the database first, with SQLite's online backup API (a consistent
   snapshot even while writers commit);
2. then the artifact folder, file by file, skipping uploads in progress.

That order is what makes the copy consistent: artifacts are uploaded before
anything in the database refers to them, so every file the copied database
names was already there when the folder was copied. Files uploaded after the
database snapshot are copied too, harmlessly (gc removes what nothing uses).

PostgreSQL and S3 have their own, better tools (`pg_dump`, bucket versioning
and replication); the README's Operations section says how, and these
commands refuse those backends with that pointer rather than half-doing it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from modelyard import __version__
from modelyard.errors import InvalidParameterValue
from modelyard.settings import Settings
from modelyard.store.artifacts import local_path_of
from modelyard.store.artifacts.base import TEMP_PREFIX
from modelyard.store.sql.db import sqlite_file

DB_FILE = "modelyard.db"
ARTIFACTS_DIR = "artifacts"
INFO_FILE = "BACKUP.json"


@dataclass(frozen=True, slots=True)
class BackupReport:
    folder: Path
    database_bytes: int
    files: int
    bytes: int


def _sqlite_file(settings: Settings, verb: str) -> Path:
    uri = settings.store_uri
    if not uri.startswith("sqlite:"):
        raise InvalidParameterValue(
            f"modelyard {verb} handles SQLite databases; for PostgreSQL use pg_dump / "
            "pg_restore as the README's Operations section shows."
        )
    return Path(sqlite_file(uri))


def _artifact_folder(settings: Settings, verb: str) -> Path:
    folder = local_path_of(settings.artifacts_root)
    if folder is None:
        raise InvalidParameterValue(
            f"modelyard {verb} handles a local artifact folder; for S3 use bucket versioning "
            "and replication (see the README's Operations section)."
        )
    return folder


def _empty_or_missing(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidParameterValue(f"{what} {path} is not empty; give a new or empty folder.")


def _copy_tree(src: Path, dst: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        target = dst / Path(dirpath).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(filenames):
            if name.startswith(TEMP_PREFIX):
                continue  # an upload in progress: not yet an artifact
            try:
                shutil.copy2(Path(dirpath) / name, target / name)
            except FileNotFoundError:
                continue  # deleted while we copied
            files += 1
            size += (target / name).stat().st_size
    return files, size


def backup(settings: Settings, dest: Path) -> BackupReport:
    """Copy the server's database and artifact folder into `dest` (new or empty)."""
    db_file = _sqlite_file(settings, "backup")
    artifacts = _artifact_folder(settings, "backup")
    if not db_file.is_file():
        raise InvalidParameterValue(f"There is no database at {db_file} to back up.")
    _empty_or_missing(dest, "The backup folder")
    dest.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    target = sqlite3.connect(dest / DB_FILE)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()
    files, size = _copy_tree(artifacts, dest / ARTIFACTS_DIR) if artifacts.is_dir() else (0, 0)
    (dest / INFO_FILE).write_text(
        json.dumps(
            {
                "modelyard": __version__,
                "created": int(time.time() * 1000),
                "database": str(db_file),
                "artifacts": str(artifacts),
                "files": files,
                "bytes": size,
            },
            indent=2,
        )
        + "\n"
    )
    return BackupReport(dest, (dest / DB_FILE).stat().st_size, files, size)


def restore(settings: Settings, src: Path) -> BackupReport:
    """Put a backup in place for a server that is not running, into an empty database path
    and artifact folder (never over existing data)."""
    if not (src / INFO_FILE).is_file() or not (src / DB_FILE).is_file():
        raise InvalidParameterValue(f"{src} is not a modelyard backup (no {INFO_FILE}).")
    db_file = _sqlite_file(settings, "restore")
    artifacts = _artifact_folder(settings, "restore")
    if db_file.exists():
        raise InvalidParameterValue(
            f"A database already exists at {db_file}; restore into a new location."
        )
    _empty_or_missing(artifacts, "The artifact folder")
    db_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / DB_FILE, db_file)
    files, size = (
        _copy_tree(src / ARTIFACTS_DIR, artifacts) if (src / ARTIFACTS_DIR).is_dir() else (0, 0)
    )
    return BackupReport(src, db_file.stat().st_size, files, size)
