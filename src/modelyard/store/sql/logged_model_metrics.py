"""Metrics recorded against logged models, on SQLite and PostgreSQL
(table of migration 0006_compat, see `schema_logged_model_metrics`).

Writing goes through `SqlLoggedModelMetrics`, called by the tracking service
only when a logged metric names a model. Reading is folded into the logged-model
queries of `SqlLoggedModels` through the helpers below: the metrics of a page
of models, and the SQL for the `datasets` clause, metric filters and ordering
by a metric (MLflow's semantics: a model's value for a key is its latest point,
by timestamp, then step, then run id).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from modelyard.entities import Metric
from modelyard.search_terms import Comparison, OrderKey
from modelyard.store.logged_model_metrics import LoggedModelMetricStore
from modelyard.store.sql.db import Database, Tx
from modelyard.store.sql.sql_text import chunks, compare_sql, placeholders


class SqlLoggedModelMetrics(LoggedModelMetricStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def missing_models(self, model_ids: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(model_ids))
        found: set[str] = set()
        with self.db.read() as tx:
            for chunk in chunks(wanted):
                found.update(
                    r[0]
                    for r in tx.all(
                        "SELECT model_id FROM logged_models WHERE lifecycle_stage = 'active' "
                        f"AND model_id IN ({placeholders(len(chunk))})",
                        chunk,
                    )
                )
        return [m for m in wanted if m not in found]

    def record(self, run_id: str, metrics: Sequence[Metric]) -> None:
        rows = []
        for m in metrics:
            nan = m.value != m.value
            rows.append(
                (
                    m.model_id,
                    m.key,
                    m.timestamp,
                    m.step,
                    0.0 if nan else m.value,
                    1 if nan else 0,
                    run_id,
                    run_id,
                    m.dataset_name,
                    m.dataset_digest,
                )
            )
        with self.db.write() as tx:
            tx.executemany(
                "INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, "
                "metric_step, metric_value, is_nan, experiment_id, run_id, dataset_name, "
                "dataset_digest) VALUES (?, ?, ?, ?, ?, ?, "
                "(SELECT experiment_id FROM runs WHERE run_uuid = ?), ?, ?, ?) "
                "ON CONFLICT (model_id, metric_name, metric_timestamp_ms, metric_step, run_id) "
                "DO UPDATE SET metric_value = excluded.metric_value, is_nan = excluded.is_nan, "
                "dataset_name = excluded.dataset_name, dataset_digest = excluded.dataset_digest",
                rows,
            )


def metrics_of(tx: Tx, model_ids: Sequence[str]) -> dict[str, list[Metric]]:
    """Every recorded point of each model, in a stable order."""
    out: dict[str, list[Metric]] = {}
    for chunk in chunks(list(model_ids)):
        for mid, key, ts, step, value, is_nan, run_id, ds_name, ds_digest in tx.all(
            "SELECT model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, "
            "is_nan, run_id, dataset_name, dataset_digest FROM logged_model_metrics "
            f"WHERE model_id IN ({placeholders(len(chunk))}) "
            "ORDER BY model_id, metric_name, metric_timestamp_ms, metric_step, run_id",
            chunk,
        ):
            out.setdefault(mid, []).append(
                Metric(
                    key=key,
                    value=math.nan if is_nan else float(value),
                    timestamp=int(ts),
                    step=int(step),
                    model_id=mid,
                    dataset_name=ds_name,
                    dataset_digest=ds_digest,
                    run_id=run_id,
                )
            )
    return out


def _dataset_sql(datasets: Sequence[dict[str, Any]], params: list[Any]) -> str:
    """`(dataset matches one of the clause's entries)` for `mm` rows, or ''."""
    alternatives = []
    for d in datasets:
        params.append(d["dataset_name"])
        cond = "mm.dataset_name = ?"
        if d.get("dataset_digest") is not None:
            params.append(d["dataset_digest"])
            cond += " AND mm.dataset_digest = ?"
        alternatives.append(f"({cond})")
    return "(" + " OR ".join(alternatives) + ")" if alternatives else ""


def metric_filter_sql(
    dialect: str, c: Comparison, datasets: Sequence[dict[str, Any]], params: list[Any]
) -> str:
    """A model matches `metrics.<key> <op> <value>` when any of its points does
    (on the `datasets` clause's datasets, when there is one), as in MLflow."""
    params.append(c.key)
    cond = compare_sql(dialect, "mm.metric_value", c.op, c.value, params)
    on_datasets = _dataset_sql(datasets, params)
    return (
        "EXISTS (SELECT 1 FROM logged_model_metrics mm WHERE mm.model_id = lm.model_id "
        f"AND mm.metric_name = ? AND mm.is_nan = 0 AND {cond}"
        + (f" AND {on_datasets}" if on_datasets else "")
        + ")"
    )


def datasets_filter_sql(datasets: Sequence[dict[str, Any]], params: list[Any]) -> str:
    """Without a metric filter, the `datasets` clause keeps the models that have
    any metric on one of its datasets."""
    on_datasets = _dataset_sql(datasets, params)
    return (
        "EXISTS (SELECT 1 FROM logged_model_metrics mm WHERE mm.model_id = lm.model_id "
        f"AND {on_datasets})"
    )


def metric_order_sql(k: OrderKey, params: list[Any]) -> list[str]:
    """ORDER BY terms for a model's latest value of `k.key` (on `k`'s dataset
    when it names one), models without one last."""
    where = ["mm.model_id = lm.model_id", "mm.metric_name = ?"]
    sub_params: list[Any] = [k.key]
    if k.dataset_name:
        where.append("mm.dataset_name = ?")
        sub_params.append(k.dataset_name)
    if k.dataset_digest:
        where.append("mm.dataset_digest = ?")
        sub_params.append(k.dataset_digest)
    latest = (
        "(SELECT CASE WHEN mm.is_nan = 1 THEN NULL ELSE mm.metric_value END "
        f"FROM logged_model_metrics mm WHERE {' AND '.join(where)} "
        "ORDER BY mm.metric_timestamp_ms DESC, mm.metric_step DESC, mm.run_id ASC LIMIT 1)"
    )
    params.extend(sub_params * 2)  # the subquery appears twice below
    direction = "ASC" if k.ascending else "DESC"
    return [f"CASE WHEN {latest} IS NULL THEN 1 ELSE 0 END ASC", f"{latest} {direction}"]
