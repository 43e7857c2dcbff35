"""M4 downsampling: what a chart gets for a long series (pure functions, no browser)."""

from __future__ import annotations

import math
import random
from bisect import bisect_right

import pytest

from modelyard.ui import downsample


def test_short_series_are_sent_whole() -> None:
    points = [(float(i), float(i % 7)) for i in range(1000)]
    series = downsample.for_chart(points, raw_limit=1000)
    assert series.xs == [p[0] for p in points]
    assert series.ys == [p[1] for p in points]
    assert (series.total, series.downsampled) == (1000, False)


def test_every_bucket_keeps_first_min_max_and_last() -> None:
    rng = random.Random(7)
    xs = [float(i) for i in range(100_000)]
    ys = [math.sin(i / 5000) + rng.random() for i in range(100_000)]
    ys[54_321] = 50.0  # a spike that every-nth sampling would miss
    ys[77_777] = -50.0
    dx, dy = downsample.m4(xs, ys, 1000)
    assert len(dx) <= 4 * 1000
    assert dx == sorted(dx) and len(set(dx)) == len(dx)
    kept = dict(zip(dx, dy, strict=True))
    assert kept[54_321.0] == 50.0 and kept[77_777.0] == -50.0
    assert dx[0] == 0.0 and dx[-1] == 99_999.0
    # m4's buckets: equal widths over [first x, last x]; x on an edge opens the next.
    width = (xs[-1] - xs[0]) / 1000
    edges = [xs[0] + b * width for b in range(1, 1000)]
    buckets: dict[int, list[float]] = {}
    kept_by_bucket: dict[int, list[float]] = {}
    for x, y in zip(xs, ys, strict=True):
        buckets.setdefault(bisect_right(edges, x), []).append(y)
    for x, y in kept.items():
        kept_by_bucket.setdefault(bisect_right(edges, x), []).append(y)
    assert kept_by_bucket.keys() == buckets.keys()
    for b, values in buckets.items():
        assert min(kept_by_bucket[b]) == min(values)
        assert max(kept_by_bucket[b]) == max(values)


def test_for_chart_downsamples_beyond_the_bound() -> None:
    points = [(float(i), float(i % 101)) for i in range(30_000)]
    series = downsample.for_chart(points, raw_limit=20_000, buckets=500)
    assert series.downsampled and series.total == 30_000
    assert len(series.xs) <= 2000
    assert max(series.ys) == 100.0 and min(series.ys) == 0.0


def test_uneven_and_degenerate_inputs() -> None:
    assert downsample.m4([], [], 10) == ([], [])
    assert downsample.m4([5.0, 5.0, 5.0], [1.0, 3.0, 2.0], 10) == ([5.0, 5.0, 5.0], [1.0, 3.0, 2.0])
    # Most buckets empty; x=1 is neither first, last, min nor max of its bucket.
    xs = [0.0, 1.0, 2.0, 1000.0]
    assert downsample.m4(xs, [1.0, 2.0, 3.0, 4.0], 100) == ([0.0, 2.0, 1000.0], [1.0, 3.0, 4.0])
    assert downsample.m4([0.0, 1.0], [math.inf, -math.inf], 1) == (
        [0.0, 1.0],
        [math.inf, -math.inf],
    )
    with pytest.raises(ValueError):
        downsample.m4([1.0], [], 3)
    with pytest.raises(ValueError):
        downsample.m4([1.0], [1.0], 0)
