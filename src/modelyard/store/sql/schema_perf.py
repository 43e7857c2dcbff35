"""Indexes for fleet-scale reads (migration 0008_perf).

The metrics table's primary key is ordered (run_uuid, key, timestamp, step, …),
MLflow's get-history order, so a *step* range cannot be read from it: the
downsampled history of a 1M-point metric used to number every point. A second
ordering by (run_uuid, key, step, …) serves step windows and per-bucket probes
(`store/sql/metric_history.py`). It names every column of the table, so it covers
those reads on PostgreSQL (index-only scans); SQLite appends the primary key's
columns to a WITHOUT ROWID table's index anyway, so the entry is no larger there.
"""

from __future__ import annotations

# Plain statements, no import of `migrations` (it appends these at import time).
PERF_MIGRATION_NAME = "0008_perf"

PERF_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX metrics_by_step ON metrics (run_uuid, key, step, timestamp, value, is_nan)",
)
