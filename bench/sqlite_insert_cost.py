"""What one metric point costs SQLite to insert, and what each part of that is.

The metrics table as migrations create it (WITHOUT ROWID, primary key in
get-history order), with and without the `metrics_by_step` index (0008_perf) and
the foreign key check to `runs`, in batches of 100 or 1,000 points (one multi-row
INSERT each, as `store/sql/ingest.py` writes them) and 1 or 16 batches per
transaction (what group commit changes). CPU microseconds per point
(`time.process_time`), so the figure holds on a loaded machine.

    .venv/bin/python bench/sqlite_insert_cost.py
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
import uuid

PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536", "temp_store=MEMORY")
RUNS = 64


def setup(path: str, foreign_keys: bool, by_step: bool) -> tuple[sqlite3.Connection, list[str]]:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in (*PRAGMAS, f"foreign_keys={'ON' if foreign_keys else 'OFF'}"):
        conn.execute("PRAGMA " + pragma)
    conn.execute("CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, lifecycle_stage TEXT)")
    conn.execute(
        "CREATE TABLE metrics (run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) "
        "ON DELETE CASCADE, key TEXT NOT NULL, step BIGINT NOT NULL, timestamp BIGINT NOT "
        "NULL, value REAL NOT NULL, is_nan SMALLINT NOT NULL DEFAULT 0, PRIMARY KEY "
        "(run_uuid, key, timestamp, step, value, is_nan)) WITHOUT ROWID"
    )
    if by_step:
        conn.execute(
            "CREATE INDEX metrics_by_step "
            "ON metrics (run_uuid, key, step, timestamp, value, is_nan)"
        )
    runs = [uuid.uuid4().hex for _ in range(RUNS)]
    conn.executemany("INSERT INTO runs VALUES (?, 'active')", [(r,) for r in runs])
    return conn, runs


def cost(foreign_keys: bool, by_step: bool, batch: int, per_tx: int, total: int) -> float:
    """CPU µs per point."""
    with tempfile.TemporaryDirectory() as tmp:
        conn, runs = setup(f"{tmp}/m.db", foreign_keys, by_step)
        sql = f"INSERT INTO metrics VALUES {','.join(['(?,?,?,?,?,?)'] * batch)} "
        sql += "ON CONFLICT DO NOTHING"
        batches = []
        for b in range(total // batch):
            run, first = runs[b % RUNS], (b // RUNS) * batch
            flat: list[object] = []
            for s in range(first, first + batch):
                flat += (run, "m", s, 1_700_000_000_000 + s, s * 0.5, 0)
            batches.append(flat)
        started = time.process_time()
        for i, params in enumerate(batches):
            if i % per_tx == 0:
                conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, params)
            if i % per_tx == per_tx - 1:
                conn.execute("COMMIT")
        if conn.in_transaction:
            conn.execute("COMMIT")
        elapsed = time.process_time() - started
        conn.close()
    return elapsed / total * 1e6


def main() -> int:
    print("| batch | batches per transaction | full schema | no foreign key | no metrics_by_step |")
    print("|---:|---:|---:|---:|---:|")
    for batch in (100, 1000):
        for per_tx in (1, 16):
            cells = [cost(fk, idx, batch, per_tx, 200_000) for fk, idx in ((1, 1), (0, 1), (1, 0))]
            print(f"| {batch} | {per_tx} | " + " | ".join(f"{c:.2f} µs" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
