"""Recorded content hashes of artifact files (table `artifact_digests`).

Keyed by (store location, path in that store). The artifact service writes a
row when an upload completes and removes rows when files are deleted through
the server; downloads and listings read them to send `Repr-Digest` and the
listing's `sha256` field without touching the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.store.artifacts.hashing import Digest
from modelyard.store.sql.db import Database
from modelyard.store.sql.sql_text import chunks, placeholders


def under(path: str, column: str = "path") -> tuple[str, tuple[str, int, str]]:
    """SQL and parameters matching `path` itself or anything below `path/` in `column`.

    `substr` rather than LIKE (no escaping of '%' and '_') or a range (not
    ordered bytewise under PostgreSQL's default collations).
    """
    prefix = f"{path}/"
    return f"({column} = ? OR substr({column}, 1, ?) = ?)", (path, len(prefix), prefix)


class SqlArtifactDigests:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, store: str, path: str, digest: Digest, now: int) -> None:
        with self.db.write() as tx:
            tx.execute(
                "INSERT INTO artifact_digests (store, path, size, sha256, recorded_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (store, path) DO UPDATE SET "
                "size = excluded.size, sha256 = excluded.sha256, "
                "recorded_at = excluded.recorded_at",
                (store, path, digest.size, digest.sha256, now),
            )

    def get(self, store: str, path: str) -> Digest | None:
        with self.db.read() as tx:
            row = tx.one(
                "SELECT size, sha256 FROM artifact_digests WHERE store = ? AND path = ?",
                (store, path),
            )
        return None if row is None else Digest(int(row[0]), str(row[1]))

    def get_many(self, store: str, paths: Sequence[str]) -> dict[str, Digest]:
        found: dict[str, Digest] = {}
        if not paths:
            return found
        with self.db.read() as tx:
            for batch in chunks(list(paths)):
                rows = tx.all(
                    "SELECT path, size, sha256 FROM artifact_digests "
                    f"WHERE store = ? AND path IN ({placeholders(len(batch))})",
                    (store, *batch),
                )
                for path, size, sha256 in rows:
                    found[str(path)] = Digest(int(size), str(sha256))
        return found

    def forget(self, store: str, path: str) -> int:
        """Drop the rows of `path` and of everything below it; returns how many."""
        condition, params = under(path)
        with self.db.write() as tx:
            tx.execute(
                f"DELETE FROM artifact_digests WHERE store = ? AND {condition}", (store, *params)
            )
            return tx.rowcount
