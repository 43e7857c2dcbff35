"""The HTTP workloads: the same requests, sent the same way, to every server.

Each workload creates its own experiment, warms up, then times a bounded number
of requests (and stops early at a time budget, saying so in the cell). Latency
is measured client-side around each request on a keep-alive `httpx.Client`;
request bodies are encoded before the clock starts. Responses are checked
(counts, ordering, byte lengths), so a fast wrong answer does not pass as a win.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from bench_report import Cell, Metric, Target, percentile

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
JSON_HEADERS = {"content-type": "application/json"}
BINARY_HEADERS = {"content-type": "application/octet-stream"}
MB = 1 << 20


@dataclass(frozen=True)
class Sizes:
    """How much work each workload does; `budget_s` caps every timed loop."""

    log_metric_seq: int = 2000
    log_metric_threads: int = 8
    log_metric_per_thread: int = 250
    batch_requests: int = 50
    batch_size: int = 1000
    runs_create: int = 300
    search_runs: int = 10_000
    search_queries: int = 30
    history_points: int = 100_000
    history_fetches: int = 10
    large_mb: int = 100
    small_files: int = 1000
    registry_ops: int = 200
    registry_models: int = 1000
    registry_queries: int = 30
    cold_starts: int = 3
    budget_s: float = 60.0
    load_budget_s: float = 900.0
    load_threads: int = 2


FULL = Sizes()
QUICK = Sizes(
    log_metric_seq=300,
    log_metric_per_thread=40,
    batch_requests=10,
    runs_create=50,
    search_runs=1000,
    search_queries=10,
    history_points=10_000,
    history_fetches=5,
    large_mb=10,
    small_files=100,
    registry_ops=30,
    registry_models=200,
    registry_queries=10,
    cold_starts=1,
    budget_s=20.0,
    load_budget_s=180.0,
)


# --- a thin, checked HTTP helper ---------------------------------------------


class EndpointMissing(Exception):
    """The server has no such route (404/405 without an MLflow error body)."""


class ApiError(Exception):
    """The server answered with an error."""


def _check(resp: httpx.Response) -> httpx.Response:
    if resp.status_code < 400:
        return resp
    body = resp.text[:300]
    # FastTrackML answers some unknown routes with a 500 carrying ENDPOINT_NOT_FOUND.
    if "ENDPOINT_NOT_FOUND" in body or (
        resp.status_code in (404, 405, 501) and "error_code" not in body
    ):
        raise EndpointMissing(f"{resp.request.method} {resp.request.url.path}")
    raise ApiError(f"{resp.status_code} {resp.request.method} {resp.request.url.path}: {body}")


class Api:
    """A keep-alive client for one server, speaking MLflow's REST API."""

    def __init__(self, base_url: str, timeout_s: float = 120.0) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s)

    def close(self) -> None:
        self.client.close()

    def post_raw(self, path: str, body: bytes) -> httpx.Response:
        return _check(self.client.post(f"{API}/{path}", content=body, headers=JSON_HEADERS))

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.post_raw(path, json.dumps(payload).encode()).json()
        return result

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = _check(self.client.get(f"{API}/{path}", params=params)).json()
        return result

    def create_experiment(self, prefix: str) -> str:
        name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
        return str(self.post("experiments/create", {"name": name})["experiment_id"])

    def create_run(self, experiment_id: str) -> str:
        body = {"experiment_id": experiment_id, "start_time": now_ms()}
        return str(self.post("runs/create", body)["run"]["info"]["run_id"])


def poster(api: Api, path: str, bodies: Sequence[bytes], offset: int = 0) -> Callable[[int], None]:
    """An op for `timed`: call i posts bodies[offset + i] (bodies are encoded before timing)."""

    def op(i: int) -> None:
        api.post_raw(path, bodies[offset + i])

    return op


def now_ms() -> int:
    return int(time.time() * 1000)


# --- timing ------------------------------------------------------------------


@dataclass
class Timing:
    """What a timed loop saw: per-request latencies (ms) of the successes, and the failures."""

    wanted: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    elapsed_s: float = 0.0

    @property
    def attempted(self) -> int:
        return len(self.latencies_ms) + self.errors

    def note(self) -> str:
        parts = []
        if self.attempted < self.wanted:
            parts.append(f"n={self.attempted}/{self.wanted}, time-capped")
        if self.errors:
            parts.append(f"{self.errors} errors: {self.first_error[:60]}")
        return "; ".join(parts)

    def _failed(self) -> Cell | None:
        if self.latencies_ms:
            return None
        return Cell.na(f"error: {self.first_error[:60]}" if self.errors else "n/a: no samples")

    def pct(self, q: float) -> Cell:
        return self._failed() or Cell(percentile(self.latencies_ms, q), self.note())

    def share_over(self, threshold_ms: float) -> Cell:
        """Percentage of successful requests slower than `threshold_ms`."""
        failed = self._failed()
        if failed:
            return failed
        slow = sum(1 for x in self.latencies_ms if x >= threshold_ms)
        return Cell(100.0 * slow / len(self.latencies_ms), self.note())

    def rate(self, per_request: float = 1.0) -> Cell:
        """Successful requests (times `per_request` units) per second of wall time."""
        failed = self._failed()
        if failed:
            return failed
        return Cell(len(self.latencies_ms) * per_request / self.elapsed_s, self.note())


def timed(wanted: int, budget_s: float, op: Callable[[int], None]) -> Timing:
    """Run op(0..wanted-1), timing each call, until done or the budget is spent."""
    timing = Timing(wanted)
    start = time.perf_counter()
    deadline = start + budget_s
    for i in range(wanted):
        if time.perf_counter() > deadline:
            break
        t0 = time.perf_counter()
        try:
            op(i)
        except (ApiError, httpx.HTTPError, ValueError) as exc:
            timing.errors += 1
            timing.first_error = timing.first_error or str(exc)
            continue
        timing.latencies_ms.append((time.perf_counter() - t0) * 1000)
    timing.elapsed_s = time.perf_counter() - start
    return timing


def warm(op: Callable[[int], None], n: int) -> None:
    """Untimed calls; failures here surface in the timed loop."""
    for i in range(n):
        try:
            op(i)
        except (ApiError, httpx.HTTPError, ValueError):
            return


# --- workloads ----------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    url: str
    sizes: Sizes

    def api(self) -> Api:
        return Api(self.url)


Results = dict[str, Cell]


@dataclass(frozen=True)
class Workload:
    name: str
    metrics: Callable[[Sizes], list[Metric]]
    run: Callable[[Context], Results]


def _metric_body(run_id: str, i: int) -> bytes:
    payload = {
        "run_id": run_id,
        "key": "loss",
        "value": 1.0 / (i + 1),
        "timestamp": now_ms(),
        "step": i,
    }
    return json.dumps(payload).encode()


# A Nagle + delayed-ACK stall on Linux loopback costs ~40-44 ms per request; a request
# that slow on an idle server is almost certainly one, so the row counts them.
STALL_MS = 40.0


def log_metric_metrics(s: Sizes) -> list[Metric]:
    ten = Target("ratio", 10)
    t = s.log_metric_threads
    return [
        Metric("log_metric_p50", "log-metric, 1 client: p50", "ms", "lower", ten),
        Metric("log_metric_p95", "log-metric, 1 client: p95", "ms", "lower", ten),
        Metric("log_metric_rps", "log-metric, 1 client: throughput", "req/s", "higher", ten),
        Metric(
            "log_metric_stalls",
            f"log-metric, 1 client: requests ≥{STALL_MS:g} ms (Nagle/delayed-ACK sized stalls)",
            "%",
            "lower",
            compare=False,
        ),
        Metric(
            "log_metric_par_rps", f"log-metric, {t} threads: throughput", "req/s", "higher", ten
        ),
    ]


def run_log_metric(ctx: Context) -> Results:
    s = ctx.sizes
    api = ctx.api()
    try:
        exp = api.create_experiment("log-metric")
        run_id = api.create_run(exp)
        thread_runs = [api.create_run(exp) for _ in range(s.log_metric_threads)]
        out: Results = {}

        # Warm every worker process: a keep-alive connection sticks to one worker,
        # so warm with as many connections as the parallel phase will open.
        _parallel_log_metric(ctx, thread_runs, 20, s.budget_s)
        bodies = [_metric_body(run_id, i) for i in range(s.log_metric_seq + 50)]
        warm(poster(api, "runs/log-metric", bodies), 50)

        seq = timed(s.log_metric_seq, s.budget_s, poster(api, "runs/log-metric", bodies, 50))
        out["log_metric_p50"] = seq.pct(50)
        out["log_metric_p95"] = seq.pct(95)
        out["log_metric_rps"] = seq.rate()
        out["log_metric_stalls"] = seq.share_over(STALL_MS)
        out["log_metric_par_rps"] = _parallel_log_metric(
            ctx, thread_runs, s.log_metric_per_thread, s.budget_s, offset=1000
        ).rate()
        return out
    finally:
        api.close()


def _parallel_log_metric(
    ctx: Context, run_ids: Sequence[str], per_thread: int, budget_s: float, offset: int = 0
) -> Timing:
    """`len(run_ids)` threads, each with its own keep-alive client and run, started together."""
    barrier = threading.Barrier(len(run_ids) + 1)
    timings: list[Timing] = []
    lock = threading.Lock()

    def worker(run_id: str) -> None:
        api = ctx.api()
        try:
            bodies = [_metric_body(run_id, offset + i) for i in range(per_thread)]
            barrier.wait()
            t = timed(per_thread, budget_s, poster(api, "runs/log-metric", bodies))
            with lock:
                timings.append(t)
        finally:
            api.close()

    threads = [threading.Thread(target=worker, args=(r,)) for r in run_ids]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    for th in threads:
        th.join()
    total = Timing(per_thread * len(run_ids), elapsed_s=time.perf_counter() - start)
    for t in timings:
        total.latencies_ms += t.latencies_ms
        total.errors += t.errors
        total.first_error = total.first_error or t.first_error
    return total


def log_batch_metrics(s: Sizes) -> list[Metric]:
    twenty = Target("ratio", 20)
    n = s.batch_size
    return [
        Metric("log_batch_p50", f"log-batch of {n:,} metrics: p50", "ms", "lower", twenty),
        Metric("log_batch_p95", f"log-batch of {n:,} metrics: p95", "ms", "lower", twenty),
    ]


def _batch_body(run_id: str, batch: int, size: int) -> bytes:
    keys = 10
    steps = size // keys
    ts = now_ms()
    metrics = [
        {"key": f"m{k}", "value": random.random(), "timestamp": ts, "step": batch * steps + j}
        for k in range(keys)
        for j in range(steps)
    ]
    return json.dumps({"run_id": run_id, "metrics": metrics}).encode()


def run_log_batch(ctx: Context) -> Results:
    s = ctx.sizes
    api = ctx.api()
    try:
        run_id = api.create_run(api.create_experiment("log-batch"))
        bodies = [_batch_body(run_id, i, s.batch_size) for i in range(s.batch_requests + 3)]
        warm(poster(api, "runs/log-batch", bodies), 3)
        t = timed(s.batch_requests, s.budget_s, poster(api, "runs/log-batch", bodies, 3))
        return {"log_batch_p50": t.pct(50), "log_batch_p95": t.pct(95)}
    finally:
        api.close()


def runs_create_metrics(s: Sizes) -> list[Metric]:
    ten = Target("ratio", 10)
    return [
        Metric("runs_create_p50", "runs/create: p50", "ms", "lower", ten),
        Metric("runs_create_p95", "runs/create: p95", "ms", "lower", ten),
    ]


def run_runs_create(ctx: Context) -> Results:
    s = ctx.sizes
    api = ctx.api()
    try:
        exp = api.create_experiment("runs-create")
        body = json.dumps({"experiment_id": exp, "start_time": now_ms()}).encode()
        create = poster(api, "runs/create", [body] * (s.runs_create + 5))
        warm(create, 5)
        t = timed(s.runs_create, s.budget_s, create)
        return {"runs_create_p50": t.pct(50), "runs_create_p95": t.pct(95)}
    finally:
        api.close()


def experiments_create_metrics(s: Sizes) -> list[Metric]:
    ten = Target("ratio", 10)
    return [
        Metric("exp_create_p50", "experiments/create: p50", "ms", "lower", ten),
        Metric("exp_create_p95", "experiments/create: p95", "ms", "lower", ten),
    ]


def run_experiments_create(ctx: Context) -> Results:
    s = ctx.sizes
    api = ctx.api()
    try:
        prefix = f"bench-exp-{uuid.uuid4().hex[:8]}"
        bodies = [
            json.dumps({"name": f"{prefix}-{i:05d}"}).encode() for i in range(s.runs_create + 5)
        ]
        create = poster(api, "experiments/create", bodies)
        warm(create, 5)
        t = timed(s.runs_create, s.budget_s, poster(api, "experiments/create", bodies, 5))
        return {"exp_create_p50": t.pct(50), "exp_create_p95": t.pct(95)}
    finally:
        api.close()


SEARCH_FILTER = "metrics.acc > 0.5 and params.lr = '0.01'"
LEARNING_RATES = ("0.1", "0.01", "0.001")


def search_metrics(s: Sizes) -> list[Metric]:
    thirty = Target("ratio", 30)
    n = f"{s.search_runs:,}"
    return [
        Metric("search_load_s", f"search: loading {n} runs (not a target)", "s", "lower"),
        Metric("search_p50", f"search at {n} runs, filtered + ordered: p50", "ms", "lower", thirty),
        Metric("search_p95", f"search at {n} runs, filtered + ordered: p95", "ms", "lower", thirty),
    ]


@dataclass
class _Loaded:
    acc_by_run: dict[str, tuple[float, str]] = field(default_factory=dict)
    errors: int = 0
    first_error: str = ""


def _load_runs(ctx: Context, exp: str, count: int) -> tuple[_Loaded, float]:
    """Create `count` runs with 5 params, 5 metrics and 3 tags each (runs/create + log-batch)."""
    s = ctx.sizes
    loaded = _Loaded()
    lock = threading.Lock()
    deadline = time.perf_counter() + s.load_budget_s
    rng = random.Random(42)
    specs = [(rng.random(), LEARNING_RATES[rng.randrange(3)]) for _ in range(count)]
    local = threading.local()
    apis: list[Api] = []

    def load_one(i: int) -> None:
        if time.perf_counter() > deadline:
            return
        if not hasattr(local, "api"):
            local.api = ctx.api()
            with lock:
                apis.append(local.api)
        api: Api = local.api
        acc, lr = specs[i]
        ts = now_ms()
        batch = {
            "params": [{"key": "lr", "value": lr}]
            + [{"key": f"p{k}", "value": str(i % (k + 7))} for k in range(1, 5)],
            "metrics": [{"key": "acc", "value": acc, "timestamp": ts, "step": 0}]
            + [
                {"key": f"m{k}", "value": random.random(), "timestamp": ts, "step": 0}
                for k in range(1, 5)
            ],
            "tags": [{"key": f"t{k}", "value": f"v{i % (k + 2)}"} for k in range(3)],
        }
        for attempt in range(3):
            try:
                run_id = api.create_run(exp)
                api.post("runs/log-batch", {"run_id": run_id, **batch})
                with lock:
                    loaded.acc_by_run[run_id] = (acc, lr)
                return
            except (ApiError, httpx.HTTPError) as exc:
                if attempt == 2:
                    with lock:
                        loaded.errors += 1
                        loaded.first_error = loaded.first_error or str(exc)

    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=s.load_threads) as pool:
            list(pool.map(load_one, range(count)))
    finally:
        for api in apis:
            api.close()
    return loaded, time.perf_counter() - start


def run_search(ctx: Context) -> Results:
    s = ctx.sizes
    api = ctx.api()
    try:
        exp = api.create_experiment("search")
        # Probe the endpoints before the long load, so a missing route fails fast.
        api.create_run(exp)
        loaded, load_s = _load_runs(ctx, exp, s.search_runs)
        n = len(loaded.acc_by_run)
        load_note = f"{n:,} runs" if n == s.search_runs else f"only {n:,} runs loaded"
        if loaded.errors:
            load_note += f"; {loaded.errors} errors: {loaded.first_error[:60]}"
        out: Results = {"search_load_s": Cell(load_s, load_note if n != s.search_runs else "")}

        expected = sorted(
            (rid for rid, (acc, lr) in loaded.acc_by_run.items() if acc > 0.5 and lr == "0.01"),
            key=lambda rid: -loaded.acc_by_run[rid][0],
        )[:100]
        body = json.dumps(
            {
                "experiment_ids": [exp],
                "filter": SEARCH_FILTER,
                "max_results": 100,
                "order_by": ["metrics.acc DESC"],
                "run_view_type": "ACTIVE_ONLY",
            }
        ).encode()

        def search(_: int) -> None:
            runs = api.post_raw("runs/search", body).json().get("runs", [])
            got = [r["info"]["run_id"] for r in runs]
            if got != expected:
                raise ValueError(f"wrong result: {len(got)} runs, expected {len(expected)}")

        warm(search, 2)
        t = timed(s.search_queries, s.budget_s, search)
        out["search_p50"] = t.pct(50)
        out["search_p95"] = t.pct(95)
        if n != s.search_runs:
            for key in ("search_p50", "search_p95"):
                c = out[key]
                out[key] = Cell(c.value, "; ".join(filter(None, [c.note, load_note])))
        return out
    finally:
        api.close()


HISTORY_PAGE = 25_000  # what the stock MlflowClient.get_metric_history asks for per page


def history_metrics(s: Sizes) -> list[Metric]:
    n = f"{s.history_points:,}"
    return [
        Metric("history_load_s", f"get-history: logging {n} points (not a target)", "s", "lower"),
        Metric(
            "history_p50", f"get-history of {n} points: p50", "ms", "lower", Target("ratio", 10)
        ),
    ]


def run_history(ctx: Context) -> Results:
    s = ctx.sizes
    api = ctx.api()
    try:
        run_id = api.create_run(api.create_experiment("history"))
        start = time.perf_counter()
        ts = now_ms()
        for first in range(0, s.history_points, 1000):
            metrics = [
                {"key": "curve", "value": 1.0 / (step + 1), "timestamp": ts, "step": step}
                for step in range(first, min(first + 1000, s.history_points))
            ]
            api.post("runs/log-batch", {"run_id": run_id, "metrics": metrics})
        out: Results = {"history_load_s": Cell(time.perf_counter() - start)}

        def fetch(_: int) -> None:
            points = 0
            token = None
            while True:
                params: dict[str, Any] = {
                    "run_id": run_id,
                    "metric_key": "curve",
                    "max_results": HISTORY_PAGE,
                }
                if token:
                    params["page_token"] = token
                page = api.get("metrics/get-history", params)
                points += len(page.get("metrics", []))
                token = page.get("next_page_token")
                if not token:
                    break
            if points != s.history_points:
                raise ValueError(f"wrong result: {points} points, expected {s.history_points}")

        warm(fetch, 1)
        out["history_p50"] = timed(s.history_fetches, s.budget_s, fetch).pct(50)
        return out
    finally:
        api.close()


def _artifact_path(exp: str, run_id: str, name: str) -> str:
    return f"{ARTIFACTS}/{exp}/{run_id}/artifacts/{name}"


def _put(api: Api, path: str, data: bytes) -> None:
    _check(api.client.put(path, content=data, headers=BINARY_HEADERS))


def _get_len(api: Api, path: str) -> int:
    size = 0
    with api.client.stream("GET", path) as resp:
        _check(resp)
        for chunk in resp.iter_raw(MB):
            size += len(chunk)
    return size


def artifacts_large_metrics(s: Sizes) -> list[Metric]:
    return [
        Metric(
            "large_upload",
            f"artifact upload, 1 × {s.large_mb} MB",
            "MB/s",
            "higher",
            Target("ratio", 2),
        ),
        Metric("large_download", f"artifact download, 1 × {s.large_mb} MB", "MB/s", "higher"),
    ]


def _curl(args: list[str]) -> None:
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-o", "/dev/null", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise ApiError(f"curl {' '.join(args[-2:])}: {done.stderr or done.stdout}"[:300])


def run_artifacts_large(ctx: Context) -> Results:
    """One large file up and down through curl.

    The transfer is driven by curl, not httpx: a Python client tops out near
    100 MB/s on this machine, below what either server can take, and would
    measure itself rather than the servers.
    """
    s = ctx.sizes
    api = ctx.api()
    try:
        exp = api.create_experiment("artifacts-large")
        run_id = api.create_run(exp)
        _put(api, _artifact_path(exp, run_id, "warmup.txt"), b"warm")
        _get_len(api, _artifact_path(exp, run_id, "warmup.txt"))
        path = _artifact_path(exp, run_id, "large/blob.bin")
        url = str(api.client.base_url).rstrip("/") + path
        with tempfile.NamedTemporaryFile(prefix="bench-large-") as blob:
            blob.write(os.urandom(s.large_mb * MB))
            blob.flush()
            up = timed(
                1,
                s.budget_s,
                lambda _: _curl(
                    ["-H", "content-type: application/octet-stream", "-T", blob.name, url]
                ),
            )
        if (got := _get_len(api, path)) != s.large_mb * MB:
            raise ValueError(f"wrong size: {got} bytes, expected {s.large_mb * MB}")
        down = timed(1, max(s.budget_s, 120.0), lambda _: _curl([url]))
        return {"large_upload": up.rate(s.large_mb), "large_download": down.rate(s.large_mb)}
    finally:
        api.close()


def artifacts_small_metrics(s: Sizes) -> list[Metric]:
    n = f"{s.small_files:,}"
    return [
        Metric("small_upload", f"artifact upload, {n} × 1 KiB", "files/s", "higher"),
        Metric(
            "small_download",
            f"artifact download, {n} × 1 KiB",
            "files/s",
            "higher",
            Target("ratio", 3),
        ),
    ]


def run_artifacts_small(ctx: Context) -> Results:
    s = ctx.sizes
    api = ctx.api()
    try:
        exp = api.create_experiment("artifacts-small")
        run_id = api.create_run(exp)
        data = os.urandom(1024)
        paths = [_artifact_path(exp, run_id, f"small/f{i:05d}.bin") for i in range(s.small_files)]
        warm(lambda i: _put(api, _artifact_path(exp, run_id, f"warm/w{i}.bin"), data), 5)
        up = timed(s.small_files, s.budget_s, lambda i: _put(api, paths[i], data))

        def download(i: int) -> None:
            if (got := _get_len(api, paths[i])) != len(data):
                raise ValueError(f"wrong size: {got} bytes, expected {len(data)}")

        down = timed(up.attempted, s.budget_s, download)
        return {"small_upload": up.rate(), "small_download": down.rate()}
    finally:
        api.close()


def registry_metrics(s: Sizes) -> list[Metric]:
    five = Target("ratio", 5)
    n = f"{s.registry_models:,}"
    return [
        Metric(
            "reg_version_create_p50", "registry: create model version, p50", "ms", "lower", five
        ),
        Metric("reg_transition_p50", "registry: transition stage, p50", "ms", "lower", five),
        Metric("reg_latest_p50", "registry: get-latest-versions, p50", "ms", "lower", five),
        Metric(
            "reg_search_p50",
            f"registry: search over {n} registered models, p50",
            "ms",
            "lower",
            five,
        ),
    ]


def run_registry(ctx: Context) -> Results:
    s = ctx.sizes
    api = ctx.api()
    try:
        tag = uuid.uuid4().hex[:6]
        name = f"bench-reg-{tag}"
        # Probe first: a missing registry route becomes "n/a: endpoint missing" for all rows.
        api.post("registered-models/create", {"name": name})
        run_id = api.create_run(api.create_experiment("registry"))
        out: Results = {}
        source = f"runs:/{run_id}/model"
        body = json.dumps({"name": name, "source": source, "run_id": run_id}).encode()
        new_version = poster(api, "model-versions/create", [body] * (s.registry_ops + 3))
        warm(new_version, 3)
        create = timed(s.registry_ops, s.budget_s, new_version)
        out["reg_version_create_p50"] = create.pct(50)
        versions = 3 + len(create.latencies_ms)

        def transition(i: int) -> None:
            stage = ("Staging", "Production")[i % 2]
            api.post(
                "model-versions/transition-stage",
                {
                    "name": name,
                    "version": str(1 + i % versions),
                    "stage": stage,
                    "archive_existing_versions": False,
                },
            )

        warm(lambda i: transition(i + s.registry_ops), 2)
        out["reg_transition_p50"] = timed(s.registry_ops, s.budget_s, transition).pct(50)

        latest = json.dumps({"name": name, "stages": ["Production"]}).encode()

        def get_latest(_: int) -> None:
            got = api.post_raw("registered-models/get-latest-versions", latest).json()
            if len(got.get("model_versions", [])) != 1:
                raise ValueError("wrong result: expected one Production version")

        warm(get_latest, 3)
        out["reg_latest_p50"] = timed(s.registry_ops, s.budget_s, get_latest).pct(50)

        prefix = f"bench-model-{tag}-"
        deadline = time.perf_counter() + s.load_budget_s
        names = []
        for i in range(s.registry_models):
            if time.perf_counter() > deadline:
                break
            api.post("registered-models/create", {"name": f"{prefix}{i:04d}"})
            names.append(f"{prefix}{i:04d}")
        expected = sorted(n for n in names if "7" in n[len(prefix) :])[:100]
        params = {"filter": f"name LIKE '{prefix}%7%'", "max_results": 100, "order_by": "name ASC"}

        def search(_: int) -> None:
            got = [
                m["name"]
                for m in api.get("registered-models/search", params).get("registered_models", [])
            ]
            if got != expected:
                raise ValueError(f"wrong result: {len(got)} models, expected {len(expected)}")

        warm(search, 2)
        t = timed(s.registry_queries, s.budget_s, search)
        out["reg_search_p50"] = t.pct(50)
        if len(names) < s.registry_models:
            c = out["reg_search_p50"]
            out["reg_search_p50"] = Cell(c.value, f"only {len(names)} models loaded")
        return out
    finally:
        api.close()


WORKLOADS: tuple[Workload, ...] = (
    Workload("log-metric", log_metric_metrics, run_log_metric),
    Workload("log-batch", log_batch_metrics, run_log_batch),
    Workload("runs-create", runs_create_metrics, run_runs_create),
    Workload("experiments-create", experiments_create_metrics, run_experiments_create),
    Workload("search", search_metrics, run_search),
    Workload("history", history_metrics, run_history),
    Workload("artifacts-large", artifacts_large_metrics, run_artifacts_large),
    Workload("artifacts-small", artifacts_small_metrics, run_artifacts_small),
    Workload("registry", registry_metrics, run_registry),
)


def run_workload(workload: Workload, ctx: Context) -> Results:
    """Run one workload; a missing endpoint or a crash fills its rows with a reason."""
    keys = [m.key for m in workload.metrics(ctx.sizes)]
    try:
        results = workload.run(ctx)
    except EndpointMissing as exc:
        print(f"    {workload.name}: endpoint missing: {exc}", file=sys.stderr, flush=True)
        return {k: Cell.na("n/a: endpoint missing") for k in keys}
    except (ApiError, httpx.HTTPError, ValueError, KeyError) as exc:
        print(f"    {workload.name}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return {k: Cell.na(f"error: {type(exc).__name__}: {str(exc)[:60]}") for k in keys}
    return results
