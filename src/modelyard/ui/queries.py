"""Read-only aggregates the UI shows and the tracking service does not offer (yet).

Why SQL here, against the house rule that views never build SQL: these are
three small read-only queries that no REST endpoint needs, and going through
the service would cost what the pages cannot afford at scale:

* run counts and last activity per experiment: the service can only page
  through runs (100,000 runs = 100 pages of hydrated runs to count them);
* the points of one metric for a chart: `get_metric_history` builds a `Metric`
  per point, ~240 ms for 100,000 points; two columns as tuples take ~45 ms.

Everything here is read-only, runs in one read transaction, uses the same
`Database` as the stores (so both backends work), and checks existence
through the tracking service first, so errors read as they do everywhere.
They belong in `TrackingStore` once another caller needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.entities import LifecycleStage

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Activity:
    run_count: int
    last_run_start: int | None


def experiment_activity(db: Any, experiment_ids: Sequence[str]) -> dict[str, Activity]:
    """Active-run count and latest run start per experiment (index-only on SQLite)."""
    out: dict[str, Activity] = {}
    ids = [int(e) for e in experiment_ids]
    with db.read() as tx:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for eid, count, last in tx.all(
                "SELECT experiment_id, COUNT(*), MAX(start_time) FROM runs "
                f"WHERE experiment_id IN ({marks}) AND lifecycle_stage = ? "
                "GROUP BY experiment_id",
                [*chunk, LifecycleStage.ACTIVE],
            ):
                out[str(eid)] = Activity(int(count), None if last is None else int(last))
    for eid in experiment_ids:
        out.setdefault(str(eid), Activity(0, None))
    return out


def metric_points(
    db: Any,
    run_id: str,
    key: str,
    *,
    by_time: bool = False,
    lo: float | None = None,
    hi: float | None = None,
) -> list[Any]:
    """(x, value) rows of every finite-or-infinite (not NaN) point, sorted by x.

    x is the step, or the timestamp in ms with `by_time`; `lo`/`hi` bound it
    inclusively. NaN points are left out: a chart has nothing to draw for them.
    """
    column = "timestamp" if by_time else "step"
    sql = f"SELECT {column}, value FROM metrics WHERE run_uuid = ? AND key = ? AND is_nan = 0"
    params: list[Any] = [run_id, key]
    if lo is not None:
        sql += f" AND {column} >= ?"
        params.append(int(lo) if float(lo).is_integer() else lo)
    if hi is not None:
        sql += f" AND {column} <= ?"
        params.append(int(hi) if float(hi).is_integer() else hi)
    with db.read() as tx:
        rows: list[Any] = tx.all(sql, params)
    # Rows come in primary-key order (timestamp first), which is nearly step
    # order too, so this sort is close to linear.
    rows.sort()
    return rows
