"""Metric points in bulk: what the history reads pass between the layers.

A million-point history cannot afford one `Metric` object per point, so these
carry plain rows `(value, timestamp, step, is_nan)` (NaN is stored as value 0
with is_nan 1) from the store to the HTTP layer, which writes them out once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# (key, value, timestamp, step): one point as log-batch receives it.
MetricRow = tuple[str, float, int, int]
# (value, timestamp, step, is_nan): one point as the metrics table holds it.
PointRow = tuple[float, int, int, int]
# The last point of a page in get-history's order (timestamp, step, value, is_nan).
HistoryKey = tuple[int, int, float, int]


@dataclass(frozen=True, slots=True)
class HistoryCursor:
    """Where a get-history page starts: after `after` when set (keyset paging),
    else at row `offset` (tokens issued by older servers carry only that)."""

    offset: int = 0
    after: HistoryKey | None = None


@dataclass(frozen=True, slots=True)
class PointsPage:
    """One page of a metric's history; `next` is None on the last page."""

    key: str
    rows: list[PointRow]
    next: HistoryCursor | None = None


@dataclass(frozen=True, slots=True)
class RunPoints:
    """Sampled points of one run's metric (get-history-bulk-interval)."""

    run_id: str
    rows: list[PointRow]


@dataclass(frozen=True, slots=True)
class ChartSeries:
    """One run's points of one metric for a chart: x ascending (a step, or a
    timestamp in ms), each value beside its x; NaN points are left out."""

    xs: Sequence[int]
    ys: Sequence[float]


@dataclass(frozen=True, slots=True)
class RunValueColumns:
    """Per key, one value per run in the order the runs were asked for (None
    where a run has no such key): parameters as text, metrics' latest values
    as floats (NaN kept). What plots of one value per run and column draw."""

    params: dict[str, list[str | None]]
    metrics: dict[str, list[float | None]]
