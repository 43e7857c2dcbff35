"""Page timings of the web UI at scale: measured, reported, never asserted.

    python bench/bench_ui.py [--runs 100000] [--models 1000] [--points 100000]
                             [--chart-runs 1000] [--chart-metrics 20] [--chart-steps 50]
                             [--requests 40] [--out bench/results/ui.md]

Builds one SQLite database with (by default) 1,000 registered models, an
experiment of 100,000 runs, a run with a 100,000-point metric and, for the
experiment charts view, an experiment of 1,000 runs × 20 metrics × 50 steps
(1M points; the last metric logged once per run, drawn as bars), starts a real
`modelyard server` on it, then requests each page `--requests` times (after two
warm-up requests) and reports p50/p95/max latency against the goal of 150 ms p95.

Two times per request: the client's, over loopback, and the server's own, from
its access log (`--log-level info`: one line per request with the time from
the request's arrival to the last byte handed to the server), which leaves the
client's share out. The goal column reads the server's p95. The browser's
rendering is not included (the charts' data requests are rows of their own).

Filling goes through two paths on purpose: the 100,000 runs are bulk-inserted
into the store's own tables in one transaction (creating them one request at a
time would take minutes and measure the write path, which bench_server.py
covers); the registry and the long metric go through the services, as a
client's requests would. A read-back through the tracking service checks that
the bulk rows are what the store itself would have written.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

GOAL_MS = 150.0
T0 = 1_700_000_000_000


@dataclass(frozen=True)
class Fixture:
    runs: int
    models: int
    points: int
    experiment_id: str
    run_id: str  # the run with the long metric
    metric_key: str
    last_models_page: str | None  # page token of the models list's last page
    deep_runs_page: str  # page token half-way through the runs
    charts_experiment_id: str  # the charts view's experiment: chart_runs × chart_metrics
    chart_runs: int
    chart_metrics: int
    chart_steps: int


def _settings(data: Path) -> object:
    from modelyard.settings import Settings

    return Settings(
        backend_store_uri=f"sqlite:///{data / 'modelyard.db'}",
        artifacts_destination=str(data / "artifacts"),
    )


def fill_charts(
    services: object, runs: int, metrics: int, steps: int, log: Callable[[str], None]
) -> str:
    """An experiment for the charts view: `runs` runs, each with `metrics` metrics of
    `steps` steps (the last one single-valued, drawn as bars), bulk-inserted like the
    100k runs below."""
    started = time.perf_counter()
    tracking = services.tracking  # type: ignore[attr-defined]
    exp_id: str = tracking.create_experiment("bench-charts")
    location = tracking.get_experiment(exp_id).artifact_location
    rng = random.Random(7)
    run_rows, tag_rows, param_rows, metric_rows, latest_rows = [], [], [], [], []
    for i in range(runs):
        rid = uuid.UUID(int=rng.getrandbits(128)).hex
        start = T0 + i * 1000
        run_rows.append(
            (
                rid,
                int(exp_id),
                f"chart-{i}",
                "bench",
                "FINISHED",
                start,
                start + 600_000,
                f"{location}/{rid}/artifacts",
                "active",
            )
        )
        tag_rows.append((rid, "mlflow.runName", f"chart-{i}"))
        param_rows.append((rid, "lr", str(rng.choice([0.1, 0.01, 0.001]))))
        rate = rng.uniform(0.02, 0.2)
        for m in range(metrics):
            key = f"m{m:02d}"
            count = 1 if m == metrics - 1 else steps
            for step in range(count):
                row = (rid, key, step, start + step * 1000, math.exp(-rate * step) + m, 0)
                metric_rows.append(row)
            latest_rows.append(row)
    with services.db.write() as tx:  # type: ignore[attr-defined]
        tx.executemany(
            "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, "
            "end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_rows,
        )
        tx.executemany("INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)", tag_rows)
        tx.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)", param_rows)
        for table, rows in (("metrics", metric_rows), ("latest_metrics", latest_rows)):
            tx.executemany(
                f"INSERT INTO {table} (run_uuid, key, step, timestamp, value, is_nan) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
    log(
        f"charts experiment: {runs:,} runs × {metrics} metrics × {steps} steps "
        f"({len(metric_rows):,} points) in {time.perf_counter() - started:.1f}s"
    )
    return exp_id


def fill(
    data: Path,
    runs: int,
    models: int,
    points: int,
    log: Callable[[str], None],
    charts: tuple[int, int, int] = (1000, 20, 50),
) -> Fixture:
    from modelyard.app import build_services
    from modelyard.entities import Metric, Param
    from modelyard.service import search_filter as sf
    from modelyard.store.sql import migrations

    services = build_services(_settings(data))  # type: ignore[arg-type]
    migrations.upgrade(services.db)
    services.tracking.ensure_default_experiment()
    tracking, registry = services.tracking, services.registry

    started = time.perf_counter()
    exp_id = tracking.create_experiment("bench-100k")
    location = tracking.get_experiment(exp_id).artifact_location
    rng = random.Random(42)
    run_rows, tag_rows, param_rows, metric_rows = [], [], [], []
    for i in range(runs):
        rid = uuid.UUID(int=rng.getrandbits(128)).hex
        start = T0 + i * 1000
        run_rows.append(
            (
                rid,
                int(exp_id),
                f"run-{i}",
                "bench",
                "FINISHED",
                start,
                start + 600_000,
                f"{location}/{rid}/artifacts",
                "active",
            )
        )
        tag_rows.append((rid, "mlflow.runName", f"run-{i}"))
        for key, value in (
            ("lr", f"{rng.choice([0.1, 0.01, 0.001])}"),
            ("optimizer", rng.choice(["adam", "sgd"])),
            ("layers", str(rng.randint(1, 12))),
        ):
            param_rows.append((rid, key, value))
        for key in ("accuracy", "loss", "f1"):
            metric_rows.append((rid, key, 10, start + 500_000, rng.random(), 0))
    with services.db.write() as tx:
        tx.executemany(
            "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, "
            "end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_rows,
        )
        tx.executemany("INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)", tag_rows)
        tx.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)", param_rows)
        for table in ("metrics", "latest_metrics"):
            tx.executemany(
                f"INSERT INTO {table} (run_uuid, key, step, timestamp, value, is_nan) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                metric_rows,
            )
    sample = tracking.get_run(run_rows[runs // 2][0])
    assert sample.info.run_name == f"run-{runs // 2}" and len(sample.data.metrics) == 3
    log(f"{runs:,} runs in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    long_run = tracking.create_run(exp_id, run_name="long-metric", start_time=T0 - 1).info.run_id
    tracking.log_batch(long_run, params=[Param("lr", "0.01")])
    for lo in range(0, points, 1000):
        tracking.log_batch(
            long_run,
            metrics=[
                Metric("loss", math.exp(-s / 20_000) + 0.05 * math.sin(s / 50), T0 + s * 100, s)
                for s in range(lo, min(lo + 1000, points))
            ],
        )
    tracking.update_run(long_run, status="FINISHED", end_time=T0 + points * 100)
    log(f"{points:,}-point metric in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    source = f"runs:/{long_run}/model"
    for m in range(models):
        name = f"model-{m:05d}"
        registry.create_registered_model(name, description="bench")
        for _ in range(1 + m % 3):
            registry.create_model_version(name, source, run_id=long_run)
        if m % 3 >= 1:
            registry.transition_stage(name, 1, "Production")
        if m % 3 == 2:
            registry.transition_stage(name, 2, "Staging")
            registry.set_alias(name, "champion", 1)
    log(f"{models:,} models in {time.perf_counter() - started:.1f}s")

    charts_exp = fill_charts(services, *charts, log)
    per_page = 100
    last_offset = ((models - 1) // per_page) * per_page
    services.db.close()
    return Fixture(
        runs=runs,
        models=models,
        points=points,
        experiment_id=exp_id,
        run_id=long_run,
        metric_key="loss",
        last_models_page=sf.encode_page_token(last_offset) if last_offset else None,
        deep_runs_page=sf.encode_page_token(runs // 2),
        charts_experiment_id=charts_exp,
        chart_runs=charts[0],
        chart_metrics=charts[1],
        chart_steps=charts[2],
    )


def pages(f: Fixture) -> list[tuple[str, str]]:
    exp = f"/experiments/{f.experiment_id}"
    series = f"/ui/series?key={f.metric_key}&run={f.run_id}"
    rows = [
        (f"models list ({f.models:,} models), first page", "/models"),
        ("models list, search", "/models?q=model-0042"),
        ("experiments list", "/experiments"),
        (f"experiment page ({f.runs:,} runs), newest first", exp),
        ("experiment page, sorted by a metric", f"{exp}?order={quote('metrics.accuracy DESC')}"),
        ("experiment page, filtered", f"{exp}?filter={quote('metrics.accuracy > 0.5')}"),
        (f"experiment page, offset {f.runs // 2:,}", f"{exp}?page={quote(f.deep_runs_page)}"),
        (f"run page ({f.points:,}-point metric)", f"/runs/{f.run_id}"),
        (f"chart data, {f.points:,} points (M4)", series),
        ("chart data, zoomed to 2k steps (raw)", f"{series}&lo=50000&hi=52000"),
        ("model page", "/models/model-00002"),
        ("version page", "/models/model-00002/versions/2"),
    ]
    charts = f"/experiments/{f.charts_experiment_id}/charts?size={f.chart_runs}"
    panel = f"/ui/experiments/{f.charts_experiment_id}/chart-panel?size={f.chart_runs}"
    shape = f"{f.chart_runs:,} runs × {f.chart_metrics} metrics"
    rows += [
        (f"charts view ({shape})", charts),
        (f"chart panel data, {f.chart_runs:,} runs × {f.chart_steps} steps", f"{panel}&key=m00"),
        (
            f"chart panel data, {f.chart_runs:,} runs × {f.chart_steps} steps, relative time",
            f"{panel}&key=m01&x=relative",
        ),
        (
            f"chart panel data, {f.chart_runs:,} runs, one value each (bars)",
            f"{panel}&key=m{f.chart_metrics - 1:02d}",
        ),
        (
            f"plots (parallel coordinates, scatter), {f.chart_runs:,} runs",
            f"/experiments/{f.charts_experiment_id}/plots?size={f.chart_runs}",
        ),
    ]
    if f.last_models_page:
        rows.insert(1, ("models list, last page", f"/models?page={quote(f.last_models_page)}"))
    return rows


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[index]


def measure(url: str, paths: list[tuple[str, str]], requests: int) -> list[tuple[str, list[float]]]:
    out = []
    with httpx.Client(base_url=url, timeout=60, headers={"accept": "text/html"}) as client:
        for label, path in paths:
            for _ in range(2):
                client.get(path).raise_for_status()
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            out.append((label, times))
    return out


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from servers import free_port, wait_healthy

    port = free_port()
    log_path = data / "server.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelyard.cli",
                "server",
                "--port",
                str(port),
                "--backend-store-uri",
                f"sqlite:///{data / 'modelyard.db'}",
                "--artifacts-destination",
                str(data / "artifacts"),
                "--log-level",
                "info",  # the access log carries each request's server time
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=data,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log_path)
    return proc, url


_ACCESS = re.compile(r"modelyard\.access: \S+ GET (\S+) (\d+) ([\d.]+) ms$")


def server_times(log_text: str, paths: list[tuple[str, str]], requests: int) -> list[list[float]]:
    """Per page, the server's own times (ms) of its measured requests, read from
    the access log in request order (the 2 warm-ups of each page are skipped)."""
    lines = [
        (m.group(1), float(m.group(3)))
        for m in map(_ACCESS.search, log_text.splitlines())
        if m is not None and not m.group(1).startswith(("/health", "/api/"))
    ]
    per_page = requests + 2
    if len(lines) != per_page * len(paths):
        raise RuntimeError(
            f"the access log has {len(lines)} page requests, expected {per_page * len(paths)}"
        )
    out = []
    for n, (_, path) in enumerate(paths):
        mine = lines[n * per_page : (n + 1) * per_page]
        if any(logged.split("?")[0] != path.split("?")[0] for logged, _ in mine):
            raise RuntimeError(f"access log out of step with the requests at {path}")
        out.append([ms for _, ms in mine[2:]])
    return out


def report(results: list[tuple[str, list[float]]], server: list[list[float]], requests: int) -> str:
    load = os.getloadavg()
    lines = [
        f"UI page timings: {requests} requests each after 2 warm-ups; client-side over "
        "loopback, and the server's own time from its access log; goal: server p95 ≤ "
        f"{GOAL_MS:.0f} ms. Load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        f"on {os.cpu_count()} CPUs.",
        "",
        "| page | p50 ms | p95 ms | max ms | server p50 ms | server p95 ms | goal |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for (label, times), own in zip(results, server, strict=True):
        p95 = percentile(own, 0.95)
        lines.append(
            f"| {label} | {statistics.median(times):.1f} | {percentile(times, 0.95):.1f} | "
            f"{max(times):.1f} | {statistics.median(own):.1f} | {p95:.1f} | "
            f"{'✓' if p95 <= GOAL_MS else '✗'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--chart-runs", type=int, default=1000)
    parser.add_argument("--chart-metrics", type=int, default=20)
    parser.add_argument("--chart-steps", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="Keep the data directory.")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    data = Path(tempfile.mkdtemp(prefix="modelyard-bench-ui-"))
    print(f"filling {data}", file=sys.stderr)
    fixture = fill(
        data,
        args.runs,
        args.models,
        args.points,
        log,
        charts=(args.chart_runs, args.chart_metrics, args.chart_steps),
    )
    proc, url = start_server(data)
    paths = pages(fixture)
    try:
        results = measure(url, paths, args.requests)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    server = server_times((data / "server.log").read_text(errors="replace"), paths, args.requests)
    text = report(results, server, args.requests)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if not args.keep:
        import shutil

        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
