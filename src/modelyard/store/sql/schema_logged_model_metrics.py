"""Schema of metrics recorded against MLflow 3 logged models (migration 0006_compat).

MLflow 3's `log_metric(..., model_id=...)` and `log_batch` with a `model_id`
record the point against the run *and* the logged model, tagged with the
dataset it was measured on. The run's copy goes through the tracking store's
hot path unchanged; the model's copy lives here, written by
`store/sql/logged_model_metrics.py` only when a metric names a model (the rare
path), so logging plain run metrics never touches this table.

The primary key mirrors MLflow's (model, name, timestamp, step, run): logging
the same point twice keeps one row, the later value winning. NaN is stored as
0 with is_nan=1, as in the run metrics tables (SQLite turns NaN into NULL).
"""

from __future__ import annotations

# Plain statements, no import of `migrations`: that module appends them to its
# list at import time, and importing it from here would make a cycle.
LOGGED_MODEL_METRICS_MIGRATION_NAME = "0006_compat"

LOGGED_MODEL_METRICS_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE logged_model_metrics (
        model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
        metric_name TEXT NOT NULL,
        metric_timestamp_ms BIGINT NOT NULL,
        metric_step BIGINT NOT NULL,
        metric_value {float} NOT NULL,
        is_nan SMALLINT NOT NULL DEFAULT 0,
        experiment_id BIGINT NOT NULL,
        run_id TEXT NOT NULL,
        dataset_name TEXT,
        dataset_digest TEXT,
        PRIMARY KEY (model_id, metric_name, metric_timestamp_ms, metric_step, run_id)
    ) {without_rowid}""",
    # search-logged-models filters and orders by (name, dataset) across models.
    "CREATE INDEX logged_model_metrics_by_name "
    "ON logged_model_metrics (metric_name, dataset_name, dataset_digest, model_id)",
)
