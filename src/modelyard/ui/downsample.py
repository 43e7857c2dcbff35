"""Min/max-preserving downsampling of a metric series for charts (M4).

A chart a thousand pixels wide cannot show 100,000 points, but it must not
hide a spike either: sampling every n-th point (what MLflow's bulk-interval
endpoint does) drops exactly the outliers a user looks for. M4 (Jugel et al.,
"M4: A Visualization-Oriented Time Series Data Aggregation", VLDB 2014) splits
the x range into equal-width buckets and keeps, per bucket, the first, last,
minimum and maximum point. A line drawn through those points covers the same
pixels as one drawn through all of them, at most 4 points per bucket.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter

# Up to this many points a series is sent whole; beyond it, M4 buckets.
RAW_LIMIT = 20_000
# Buckets for a downsampled series: ≤ 4 points each, about one per pixel column
# of a wide chart, so zooming in (which fetches the visible range again) is
# what reveals detail.
BUCKETS = 2_000


@dataclass(frozen=True, slots=True)
class Series:
    """Points in x order; `total` counts the points of the range before downsampling."""

    xs: Sequence[float]
    ys: Sequence[float]
    total: int
    downsampled: bool


def m4(xs: Sequence[float], ys: Sequence[float], buckets: int) -> tuple[list[float], list[float]]:
    """Keep first, min, max and last point of each of `buckets` equal-width x buckets.

    `xs` must be sorted ascending and as long as `ys`. Points come back in x
    order, each at most once; no bucket's extremes are lost. Bucket edges are
    found by bisection and extremes by the built-in min/max over slices, so the
    per-point work runs in C: ~10 ms for 100,000 points.
    """
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    n = len(xs)
    if n == 0:
        return [], []
    lo, hi = xs[0], xs[-1]
    width = (hi - lo) / buckets
    keep: list[int] = []
    start = 0
    for b in range(1, buckets + 1):
        # Bucket b-1 is [lo + (b-1)·width, lo + b·width); the last one ends at hi.
        end = n if b == buckets or width == 0 else bisect_left(xs, lo + b * width, start)
        if end <= start:
            continue
        window = ys[start:end]
        low = start + window.index(min(window))
        high = start + window.index(max(window))
        keep.extend(sorted({start, low, high, end - 1}))
        start = end
        if start >= n:
            break
    return [xs[i] for i in keep], [ys[i] for i in keep]


def for_chart(
    points: Sequence[tuple[float, float]],
    *,
    raw_limit: int = RAW_LIMIT,
    buckets: int = BUCKETS,
) -> Series:
    """All points up to `raw_limit`, M4 beyond; `points` are (x, y) sorted by x."""
    if not points:
        return Series([], [], 0, False)
    xs = list(map(itemgetter(0), points))
    ys = list(map(itemgetter(1), points))
    return columns_for_chart(xs, ys, raw_limit=raw_limit, buckets=buckets)


def columns_for_chart(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    raw_limit: int = RAW_LIMIT,
    buckets: int = BUCKETS,
) -> Series:
    """`for_chart` for points already split into columns (xs sorted): sent as
    they are up to `raw_limit`, M4 beyond."""
    if len(xs) <= raw_limit:
        return Series(xs, ys, len(xs), False)
    dx, dy = m4(xs, ys, buckets)
    return Series(dx, dy, len(xs), True)
