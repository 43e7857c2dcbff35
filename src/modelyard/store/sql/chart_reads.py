"""Set-based reads for the experiment charts and plots: many runs, one metric or one value each.

An experiment's charts view overlays up to 1,000 runs per panel and its plots
draw one value per run and column, so these reads are shaped for that:

* `series_for_runs`: one metric's (x, value) points for every run, as two
  columns per run (what the chart draws and the JSON carries), never a
  Python object per point beyond the numbers themselves. On SQLite (in
  process) a statement per run along `metrics_by_step` (or the primary key for
  timestamps) costs microseconds, and its rows need no run id: 50,000 rows
  each carrying a 32-character id cost more than the 1,000 statements. On
  PostgreSQL every statement is a round trip, so one statement for all runs
  aggregates each run's points into two arrays in the database: a row per
  run instead of a row per point, which is what the driver is slow at
  building (a 1,000-run panel: 85 ms of the server process's CPU before, 35 after).
* `run_value_columns`: every parameter and latest metric value of the runs as
  columns aligned with the runs' order (what parallel coordinates and the
  scatter plot), two statements per 500 runs (one on PostgreSQL), without
  building a dict per run; `metric_keys` names the charts' panels.

Values stay exact: doubles travel as doubles (PostgreSQL arrays in binary).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from modelyard.points_entities import ChartSeries, RunValueColumns
from modelyard.store.sql.db import Tx
from modelyard.store.sql.sql_text import in_conditions

# x column → the index order that returns it sorted without a sort step:
# `metrics_by_step` (migration 0008_perf) for steps, the primary key for timestamps.
_X_ORDER = {"step": "step, timestamp", "timestamp": "timestamp, step"}


def _run_id_sets(tx: Tx, run_ids: Sequence[str]) -> Iterable[tuple[str, list[Any]]]:
    """`run_uuid IN (...)` conditions with their parameters, covering `run_ids`."""
    return in_conditions(tx.dialect, "run_uuid", run_ids)


def series_for_runs(tx: Tx, run_ids: Sequence[str], key: str, x: str) -> dict[str, ChartSeries]:
    """Every non-NaN point of `key` per run as (xs, ys) sorted by x ("step" or
    "timestamp"); runs without the metric are left out."""
    order = _X_ORDER[x]
    out: dict[str, ChartSeries] = {}
    ids = list(dict.fromkeys(run_ids))
    if tx.dialect == "sqlite":
        sql = (
            f"SELECT {x}, value FROM metrics "
            f"WHERE run_uuid = ? AND key = ? AND is_nan = 0 ORDER BY {order}"
        )
        for run_id in ids:
            rows = tx.all(sql, [run_id, key])
            if rows:
                # Two columns from the rows in one C-level pass.
                xs, ys = zip(*rows, strict=True)
                out[run_id] = ChartSeries(xs, ys)
        return out
    if not ids:
        return out
    # Per run, an index-only scan of its points in x order (a nested loop,
    # not a sort of every run's points by run id), aggregated into two
    # arrays; binary results bring the float8[] as doubles, built by the
    # driver's C code. The order comes from the subquery: PostgreSQL never
    # flattens a subquery that has an ORDER BY, and a plain aggregate reads
    # its input in order. `array_agg(x ORDER BY …)` would sort each run's
    # points once per array instead (PostgreSQL 15 does not skip the sort
    # for presorted input): ~40% more database time for a 1,000-run panel.
    for run_id, xs, ys in tx.all_binary(
        "SELECT r.id, a.xs, a.ys FROM unnest(?::text[]) AS r(id) CROSS JOIN LATERAL "
        "(SELECT array_agg(x) AS xs, array_agg(value) AS ys FROM "
        f"(SELECT {x} AS x, value FROM metrics WHERE run_uuid = r.id AND key = ? "
        f"AND is_nan = 0 ORDER BY {order}) p) a WHERE a.xs IS NOT NULL",
        [ids, key],
    ):
        out[run_id] = ChartSeries(xs, ys)
    return out


def run_value_columns(tx: Tx, run_ids: Sequence[str]) -> RunValueColumns:
    """Each parameter and latest metric value of the runs, one list per key
    aligned with `run_ids` (None where a run has no such key; NaN as NaN)."""
    n = len(run_ids)
    position = {r: i for i, r in enumerate(run_ids)}
    params: dict[str, list[str | None]] = {}
    metrics: dict[str, list[float | None]] = {}
    for where, params_in in _run_id_sets(tx, run_ids):
        # Primary-key order (run, key): no sort in the database; a dict lookup
        # per row here costs less than sorting by key there.
        for rid, k, text in tx.all(
            f"SELECT run_uuid, key, value FROM params WHERE {where}", params_in
        ):
            texts = params.get(k)
            if texts is None:
                texts = params[k] = [None] * n
            texts[position[rid]] = text
        for rid, k, value, is_nan in tx.all(
            f"SELECT run_uuid, key, value, is_nan FROM latest_metrics WHERE {where}",
            params_in,
        ):
            values = metrics.get(k)
            if values is None:
                values = metrics[k] = [None] * n
            values[position[rid]] = math.nan if is_nan else value
    return RunValueColumns(params, metrics)


def metric_keys(tx: Tx, run_ids: Sequence[str]) -> list[str]:
    """The metric keys any of the runs has logged, sorted (the charts' panels)."""
    keys: set[str] = set()
    for where, params_in in _run_id_sets(tx, run_ids):
        keys.update(
            k
            for (k,) in tx.all(f"SELECT DISTINCT key FROM latest_metrics WHERE {where}", params_in)
        )
    return sorted(keys)
