"""Ingest from many writers: N concurrent clients sending log-batch, every point counted back.

Each client is a thread with its own keep-alive connection and its own run; the
servers (1 or 2 `modelyard server` processes on one database) are spread round
robin. Bodies are encoded before the clock starts. After a warm-up, a fixed window
is measured: points/s acknowledged, request latency p50/p95, errors. Then the
clients stop, and every run's history is read back through get-history: the
points stored must equal the points acknowledged (no loss), and a failed request
counts as an error in the table. The 1-minute load average is read before and
after each cell, since the load generator shares the machine's 2 cores.
"""

from __future__ import annotations

import collections
import math
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import orjson

API = "/api/2.0/mlflow"
HEADERS = {"content-type": "application/json"}
CLIENTS = (1, 8, 16, 64)
BATCHES = (100, 1000)
# Targets from issue 15: points/s by backend, p95 and no loss at 64 writers.
SQLITE_GOAL = 150_000  # with 8 or more writers
PG_GOAL = 100_000  # one process
P95_GOAL_MS = 100.0


@dataclass
class IngestCell:
    backend: str
    processes: int
    clients: int
    batch: int
    points_per_s: float
    p50_ms: float
    p95_ms: float
    errors: int
    acknowledged: int
    stored: int
    load_before: float
    load_after: float
    first_error: str = ""

    @property
    def lost(self) -> int:
        return self.acknowledged - self.stored


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in (0, 1]."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def _count_points(client: httpx.Client, run_id: str, key: str) -> int:
    total, token = 0, None
    while True:
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": 25_000}
        if token:
            params["page_token"] = token
        body = client.get(f"{API}/metrics/get-history", params=params).json()
        total += len(body.get("metrics", []))
        token = body.get("next_page_token")
        if not token:
            return total


def measure_cell(
    urls: list[str], backend: str, clients: int, batch: int, seconds: float
) -> IngestCell:
    """One cell of the matrix: `clients` writers of `batch`-point log-batches."""
    load_before = os.getloadavg()[0]
    admin = httpx.Client(base_url=urls[0], timeout=120)
    exp = admin.post(
        f"{API}/experiments/create", json={"name": f"ingest-{clients}x{batch}-{uuid.uuid4().hex}"}
    ).json()["experiment_id"]
    stop = threading.Event()
    measuring = threading.Event()
    lock = threading.Lock()
    latencies: list[float] = []
    counts: collections.Counter[str] = collections.Counter()
    acknowledged: dict[str, int] = {}
    errors: list[str] = []
    ready = threading.Barrier(clients + 1)

    def worker(index: int) -> None:
        client = httpx.Client(base_url=urls[index % len(urls)], timeout=120)
        try:
            run_id = client.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"][
                "info"
            ]["run_id"]
            acknowledged[run_id] = 0
            ready.wait()
            step = 0
            while not stop.is_set():
                body = orjson.dumps(
                    {
                        "run_id": run_id,
                        "metrics": [
                            {"key": "m", "value": s * 0.5, "timestamp": 1_700_000_000_000 + s,
                             "step": s}
                            for s in range(step, step + batch)
                        ],
                    }
                )  # fmt: skip
                step += batch
                started = time.perf_counter()
                try:
                    answer = client.post(f"{API}/runs/log-batch", content=body, headers=HEADERS)
                    ok = answer.status_code == 200
                    why = "" if ok else f"{answer.status_code} {answer.text[:80]}"
                except httpx.HTTPError as exc:
                    ok, why = False, f"{type(exc).__name__}: {exc}"[:100]
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if ok:
                        acknowledged[run_id] += batch
                    else:
                        errors.append(why)
                    if measuring.is_set() and ok:
                        latencies.append(elapsed)
                        counts["points"] += batch
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    time.sleep(min(2.0, seconds / 3))  # warm-up
    with lock:
        measuring.set()
    started = time.perf_counter()
    time.sleep(seconds)
    with lock:
        points = counts["points"]
        window = list(latencies)
        measuring.clear()
    elapsed = time.perf_counter() - started
    stop.set()
    for t in threads:
        t.join()
    stored = sum(_count_points(admin, run_id, "m") for run_id in acknowledged)
    admin.close()
    return IngestCell(
        backend=backend,
        processes=len(urls),
        clients=clients,
        batch=batch,
        points_per_s=points / elapsed,
        p50_ms=statistics.median(window) if window else float("nan"),
        p95_ms=_percentile(window, 0.95) if window else float("nan"),
        errors=len(errors),
        acknowledged=sum(acknowledged.values()),
        stored=stored,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        first_error=errors[0] if errors else "",
    )


def measure_matrix(
    backend: str,
    processes: int,
    start_servers: Callable[[int], AbstractContextManager[list[str]]],
    seconds: float,
    clients: tuple[int, ...] = CLIENTS,
    batches: tuple[int, ...] = BATCHES,
    log: Callable[[str], None] = print,
) -> Iterator[IngestCell]:
    """Every (clients, batch) cell against `processes` fresh servers on one database."""
    with start_servers(processes) as urls:
        for batch in batches:
            for n in clients:
                cell = measure_cell(urls, backend, n, batch, seconds)
                log(
                    f"ingest {backend} ×{processes}: {n} clients × {batch}: "
                    f"{cell.points_per_s:,.0f} points/s, p95 {cell.p95_ms:.1f} ms, "
                    f"{cell.errors} errors, {cell.lost} lost"
                )
                yield cell


def goal(cell: IngestCell) -> str:
    """✓/✗ against issue 15's targets, or '' where none applies."""
    marks = []
    if cell.backend == "sqlite" and cell.clients >= 8:
        marks.append(cell.points_per_s >= SQLITE_GOAL)
    if cell.backend == "postgresql" and cell.processes == 1 and cell.clients >= 8:
        marks.append(cell.points_per_s >= PG_GOAL)
    if cell.clients == 64:
        marks += [cell.p95_ms < P95_GOAL_MS, cell.errors == 0 and cell.lost == 0]
    if not marks:
        return ""
    return "✓" if all(marks) else "✗"


def table(cells: list[IngestCell]) -> list[str]:
    out = [
        "| backend | processes | clients | batch | points/s | p50 ms | p95 ms | errors | "
        "lost | load before → after | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for c in cells:
        moved = " ⚠" if abs(c.load_after - c.load_before) > 1.0 else ""
        out.append(
            f"| {c.backend} | {c.processes} | {c.clients} | {c.batch} | {c.points_per_s:,.0f} "
            f"| {c.p50_ms:.1f} | {c.p95_ms:.1f} | {c.errors} | {c.lost} "
            f"| {c.load_before:.1f} → {c.load_after:.1f}{moved} | {goal(c)} |"
        )
    return out


def as_json(cells: list[IngestCell]) -> list[dict[str, Any]]:
    return [asdict(c) | {"lost": c.lost} for c in cells]
