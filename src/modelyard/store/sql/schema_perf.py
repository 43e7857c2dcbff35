"""Indexes for fleet-scale reads (migration 0008_perf).

The metrics table's primary key is ordered (run_uuid, key, timestamp, step, …),
MLflow's get-history order, so a *step* range cannot be read from it: the
downsampled history of a 1M-point metric used to number every point. A second
ordering by (run_uuid, key, step, …) serves step windows and per-bucket probes
(`store/sql/metric_history.py`). It names every column of the table, so it covers
those reads on PostgreSQL (index-only scans); SQLite appends the primary key's
columns to a WITHOUT ROWID table's index anyway, so the entry is no larger there.

Run search ordered by `attributes.start_time ASC` (NULLs last, MLflow's order) had
no index on PostgreSQL, whose runs_by_experiment is built DESC NULLS LAST: it sorted
every run of the experiment (137 ms at 100k runs against 0.3 ms for DESC). The
search SQL now writes that order as `(start_time IS NULL), start_time`, which the
second index below serves on both backends (0.5 ms).
"""

from __future__ import annotations

# Plain statements, no import of `migrations` (it appends these at import time).
PERF_MIGRATION_NAME = "0008_perf"

PERF_STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX metrics_by_step ON metrics (run_uuid, key, step, timestamp, value, is_nan)",
    "CREATE INDEX runs_by_experiment_start_asc "
    "ON runs (experiment_id, lifecycle_stage, (start_time IS NULL), start_time)",
)
