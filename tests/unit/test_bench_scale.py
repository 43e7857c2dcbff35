"""The scale benchmark's pure parts: sizes add up, bodies fit MLflow's limits, reports render."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def generate() -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("generate")


@pytest.fixture(scope="module")
def bench_scale(generate: ModuleType) -> ModuleType:
    return importlib.import_module("bench_scale")


@pytest.mark.parametrize("size", ["full", "quick"])
def test_sizes_add_up_to_the_promised_store(generate: ModuleType, size: str) -> None:
    sizes = generate.Sizes() if size == "full" else generate.QUICK
    steps = sizes.steps_per_metric
    ordinary = sizes.runs * len(generate.METRICS) * steps
    assert ordinary + sizes.long_points == sizes.points
    body = generate._run_body(7, "r" * 32, steps, 0)
    assert (len(body["params"]), len(body["tags"])) == (5, 3)
    assert len(body["metrics"]) == 5 * steps
    entries = len(body["params"]) + len(body["tags"]) + len(body["metrics"])
    assert entries <= generate.BATCH_LIMIT
    if size == "full":
        assert (sizes.runs, sizes.points, sizes.long_points, sizes.models) == (
            100_000,
            10_000_000,
            1_000_000,
            10_000,
        )


def test_report_renders_tables_and_goal_marks(
    bench_scale: ModuleType, generate: ModuleType
) -> None:
    made = generate.Made(
        "http://x",
        "1",
        "run",
        [],
        1000,
        100_000,
        100,
        {
            "runs": 4.0,
            "long_metric": 0.5,
            "models": 0.3,
        },
    )
    result = bench_scale.BackendResult(
        "postgresql",
        made=made,
        searches=[
            bench_scale.Row("fast", [5.0] * 20, "100 rows"),
            bench_scale.Row("slow", [150.0] * 20, "100 rows"),
        ],
        ingest=[
            # SQLite-like goal: 150k points/s at 8+ writers; 64 writers also need
            # p95 < 100 ms and nothing lost.
            bench_scale.IngestCell(
                "sqlite",
                1,
                8,
                1000,
                160_000.0,
                20.0,
                40.0,
                0,
                900,
                900,
                1.0,
                1.2,
                server_cpu_ms_per_1k=5.25,
                client_cpu_ms_per_1k=2.5,
            ),
            bench_scale.IngestCell(
                "postgresql", 2, 64, 100, 90_000.0, 50.0, 99.0, 0, 500, 400, 1.0, 2.5
            ),
        ],
    )
    args = argparse.Namespace(
        quick=True,
        concurrency=4,
        repeat=20,
        backends=["postgresql"],
        ingest_seconds=5.0,
    )
    text = bench_scale.report([result], generate.QUICK, args)
    assert "| fast | 5.0 | 5.0 | 20 | 100 rows | ✓ |" in text
    assert "| slow | 150.0 | 150.0 | 20 | 100 rows | ✗ |" in text
    assert (
        "| sqlite | 1 | 8 | 1000 | 160,000 | 20.0 | 40.0 | 0 | 0 | 5.25 | 2.50 | 1.0 → 1.2 | ✓ |"
        in text
    )
    # 100 points acknowledged but not stored: a loss fails the goal; the load moved by 1.5.
    assert (
        "| postgresql | 2 | 64 | 100 | 90,000 | 50.0 | 99.0 | 0 | 100 | – | – | 1.0 → 2.5 ⚠ | ✗ |"
        in text
    )
    assert bench_scale.percentile([1.0, 2.0, 3.0, 4.0], 0.95) == 4.0
    assert bench_scale.percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
