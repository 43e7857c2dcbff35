"""Ingest from many writers: N concurrent clients sending log-batch, every point counted back.

Each client is a thread with its own keep-alive connection and its own run; the
servers (1 or 2 `modelyard server` processes on one database) are spread round
robin. Bodies are encoded before the clock starts. After a warm-up, a fixed window
is measured: points/s acknowledged, request latency p50/p95, errors. Then the
clients stop, and every run's history is read back through get-history: the
points stored must equal the points acknowledged (no loss), and a failed request
counts as an error in the table. The 1-minute load average is read before and
after each cell, since the load generator shares the machine's 2 cores.

CPU time, which waiting for a core does not inflate, is read for the measured
window too: the server processes' (from /proc/<pid>/stat, when their pids are
given) and the load generator's own (`time.process_time`), each as milliseconds
per 1,000 points acknowledged. On a loaded machine these say more than points/s.
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
    server_cpu_ms_per_1k: float = float("nan")  # server processes, per 1,000 points
    client_cpu_ms_per_1k: float = float("nan")  # the load generator, per 1,000 points

    @property
    def lost(self) -> int:
        return self.acknowledged - self.stored


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in (0, 1]."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def _cpu_seconds(pids: tuple[int, ...]) -> float:
    """User + system CPU seconds of these processes (all their threads) so far."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


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
    urls: list[str],
    backend: str,
    clients: int,
    batch: int,
    seconds: float,
    pids: tuple[int, ...] = (),
) -> IngestCell:
    """One cell of the matrix: `clients` writers of `batch`-point log-batches
    (`pids`: the servers' processes, whose CPU time is read)."""
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
        url = urls[index % len(urls)]
        with httpx.Client(base_url=url, timeout=120) as setup:
            run_id = setup.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"][
                "info"
            ]["run_id"]
        acknowledged[run_id] = 0
        ready.wait()
        # A connection opened after the barrier: one left idle while 64 runs were
        # created could pass uvicorn's 5 s keep-alive and be closed under the
        # first request ("Server disconnected without sending a response").
        client = httpx.Client(base_url=url, timeout=120)
        try:
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
    server_cpu, client_cpu = _cpu_seconds(pids), time.process_time()
    time.sleep(seconds)
    with lock:
        points = counts["points"]
        window = list(latencies)
        measuring.clear()
    elapsed = time.perf_counter() - started
    server_cpu = _cpu_seconds(pids) - server_cpu
    client_cpu = time.process_time() - client_cpu
    per_1k = 1000 / points * 1000 if points else float("nan")
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
        server_cpu_ms_per_1k=server_cpu * per_1k if pids else float("nan"),
        client_cpu_ms_per_1k=client_cpu * per_1k,
    )


def measure_matrix(
    backend: str,
    processes: int,
    start_servers: Callable[[int], AbstractContextManager[list[tuple[str, int]]]],
    seconds: float,
    clients: tuple[int, ...] = CLIENTS,
    batches: tuple[int, ...] = BATCHES,
    log: Callable[[str], None] = print,
) -> Iterator[IngestCell]:
    """Every (clients, batch) cell against `processes` fresh servers on one database
    (`start_servers` yields each server's (url, pid))."""
    with start_servers(processes) as running:
        urls = [url for url, _ in running]
        pids = tuple(pid for _, pid in running)
        for batch in batches:
            for n in clients:
                cell = measure_cell(urls, backend, n, batch, seconds, pids)
                log(
                    f"ingest {backend} ×{processes}: {n} clients × {batch}: "
                    f"{cell.points_per_s:,.0f} points/s, p95 {cell.p95_ms:.1f} ms, "
                    f"{cell.errors} errors, {cell.lost} lost, server CPU "
                    f"{cell.server_cpu_ms_per_1k:.2f} ms / 1k points"
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


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2f}"


def table(cells: list[IngestCell]) -> list[str]:
    out = [
        "| backend | processes | clients | batch | points/s | p50 ms | p95 ms | errors | "
        "lost | server CPU ms / 1k points | client CPU ms / 1k points | load before → after "
        "| goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for c in cells:
        moved = " ⚠" if abs(c.load_after - c.load_before) > 1.0 else ""
        out.append(
            f"| {c.backend} | {c.processes} | {c.clients} | {c.batch} | {c.points_per_s:,.0f} "
            f"| {c.p50_ms:.1f} | {c.p95_ms:.1f} | {c.errors} | {c.lost} "
            f"| {_ms(c.server_cpu_ms_per_1k)} | {_ms(c.client_cpu_ms_per_1k)} "
            f"| {c.load_before:.1f} → {c.load_after:.1f}{moved} | {goal(c)} |"
        )
    return out


def as_json(cells: list[IngestCell]) -> list[dict[str, Any]]:
    return [asdict(c) | {"lost": c.lost} for c in cells]
