"""Scale benchmark: a 100,000-run store on SQLite and on PostgreSQL, from one command.

For each backend it starts `modelyard server`, fills it through the API with
`bench/generate.py` (100k runs × 5 params / 5 metrics / 3 tags, 10M metric
points incl. one 1M-point metric, 10k registered models), then measures:

* filtered run search (`runs/search`, 100 rows a page): p50/p95 per query; goal p95 < 100 ms;
* the web UI's experiment page and Models page (when the UI is installed), server
  time measured over loopback;
* metric history of the 1M-point metric: `get-history-bulk-interval` (MLflow's
  downsampled read, what its charts call) for the whole range and a zoomed window,
  and one full `get-history` read paged at 25,000 points;
* ingest throughput on PostgreSQL with 1, 2 and 3 server processes sharing the
  database: `log-batch` of 1,000 points from 3 client threads per process for a
  fixed time, with the machine's CPU use over the same window.

    .venv/bin/python bench/bench_scale.py                 # full size (~30-40 min on 2 cores)
    .venv/bin/python bench/bench_scale.py --quick         # 1% size smoke run (~2 min)
    .venv/bin/python bench/bench_scale.py --backends postgresql --profile

`--profile` records the server with py-spy during the search phase and lists the
functions where its time goes. The report goes to stdout and `--out`
(default bench/results/scale.md or scale-quick.md); progress to stderr.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from generate import LONG_METRIC, QUICK, Made, Sizes, generate  # noqa: E402
from servers import PG_ADMIN_URL, free_port, wait_healthy  # noqa: E402

API = "/api/2.0/mlflow"
SEARCH_GOAL_MS = 100.0

SEARCHES: list[tuple[str, str, list[str]]] = [
    ("no filter, newest first", "", []),
    ("metric threshold, sorted by it", "metrics.accuracy > 0.9", ["metrics.accuracy DESC"]),
    ("param and metric", "params.optimizer = 'adam' and metrics.loss < 0.2", []),
    ("two tags", "tags.team = 'vision' and tags.stage = 'prod-candidate'", []),
    ("run name prefix", "attributes.run_name LIKE 'run-0042%'", []),
    ("param equality, sorted by a param", "params.layers = '12'", ["params.lr ASC"]),
    ("rare metric range", "metrics.f1 > 0.9 and metrics.recall < 0.9", ["metrics.f1 DESC"]),
]


def log(msg: str) -> None:
    print(f"[bench_scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = math.ceil(q * len(ordered))
    return ordered[max(0, min(len(ordered), rank) - 1)]


@dataclass
class Row:
    label: str
    times_ms: list[float]
    note: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        return percentile(self.times_ms, 0.95)


@dataclass
class BackendResult:
    backend: str
    made: Made | None = None
    searches: list[Row] = field(default_factory=list)
    pages: list[Row] = field(default_factory=list)
    history: list[Row] = field(default_factory=list)
    ingest: list[dict[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)


# -- servers -----------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def servers(count: int, backend_uri: str, workdir: Path) -> Iterator[list[Server]]:
    """`count` independent `modelyard server` processes on one database, started at once."""
    started: list[Server] = []
    try:
        for _ in range(count):
            port = free_port()
            log_path = workdir / f"server-{port}.log"
            with open(log_path, "wb") as out:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "modelyard.cli",
                        "server",
                        "--port",
                        str(port),
                        "--backend-store-uri",
                        backend_uri,
                        "--artifacts-destination",
                        str(workdir / "artifacts"),
                        "--log-level",
                        "warning",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    start_new_session=True,
                )
            started.append(Server(f"http://127.0.0.1:{port}", proc, log_path))
        for s in started:
            wait_healthy(s.url, s.proc, s.log_path, timeout=120)
        yield started
    finally:
        for s in started:
            s.proc.terminate()
        for s in started:
            try:
                s.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait()


@contextmanager
def database(backend: str, workdir: Path, keep: bool) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'modelyard.db'}"
        return
    import psycopg

    name = f"modelyard_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        if keep:
            log(f"kept PostgreSQL database {name}")
        else:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- measurements ------------------------------------------------------------------------------
def timed(client: httpx.Client, method: str, path: str, repeat: int, **kwargs: Any) -> list[float]:
    for _ in range(2):
        client.request(method, path, **kwargs).raise_for_status()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.request(method, path, **kwargs)
        elapsed = (time.perf_counter() - started) * 1000
        answer.raise_for_status()
        times.append(elapsed)
    return times


def measure_searches(client: httpx.Client, exp_id: str, repeat: int) -> list[Row]:
    rows = []
    for label, filter_string, order_by in SEARCHES:
        body = {
            "experiment_ids": [exp_id],
            "filter": filter_string,
            "order_by": order_by,
            "max_results": 100,
        }
        encoded = orjson.dumps(body)
        answer = client.post(
            f"{API}/runs/search", content=encoded, headers={"content-type": "application/json"}
        )
        answer.raise_for_status()
        found = len(answer.json().get("runs", []))
        times = timed(
            client,
            "POST",
            f"{API}/runs/search",
            repeat,
            content=encoded,
            headers={"content-type": "application/json"},
        )
        rows.append(Row(f"{label}: `{filter_string or '—'}`", times, f"{found} rows"))
    return rows


def measure_pages(
    client: httpx.Client, exp_id: str, sizes: Sizes, repeat: int
) -> tuple[list[Row], list[str]]:
    pages = [
        (f"experiment page ({sizes.runs:,} runs, first page)", f"/experiments/{exp_id}"),
        (
            "experiment page, filtered",
            f"/experiments/{exp_id}?filter={quote('metrics.accuracy > 0.9')}",
        ),
        (f"Models page ({sizes.models:,} models, first page)", "/models"),
        ("Models page, search", "/models?q=model-0042"),
    ]
    rows, notes = [], []
    for label, path in pages:
        probe = client.get(path, headers={"accept": "text/html"})
        if probe.status_code == 404:
            notes.append(f"{label}: `{path}` answers 404 (UI not installed in this build)")
            continue
        times = timed(client, "GET", path, repeat, headers={"accept": "text/html"})
        rows.append(Row(label, times, f"{len(probe.content) // 1024} KiB HTML"))
    return rows, notes


def measure_history(client: httpx.Client, run_id: str, points: int, repeat: int) -> list[Row]:
    rows = []
    base = f"{API}/metrics/get-history-bulk-interval"
    whole = {"run_ids": run_id, "metric_key": LONG_METRIC, "max_results": 320}
    got = client.get(base, params=whole).json().get("metrics", [])
    rows.append(
        Row(
            f"bulk-interval, whole {points:,}-point metric, max_results=320",
            timed(client, "GET", base, repeat, params=whole),
            f"{len(got)} points returned",
        )
    )
    lo, hi = points // 2, points // 2 + 2_000
    window = {**whole, "start_step": lo, "end_step": hi}
    got = client.get(base, params=window).json().get("metrics", [])
    rows.append(
        Row(
            f"bulk-interval, zoomed to steps {lo:,}–{hi:,}",
            timed(client, "GET", base, repeat, params=window),
            f"{len(got)} points returned",
        )
    )
    page = {"run_id": run_id, "metric_key": LONG_METRIC, "max_results": 25_000}
    rows.append(
        Row(
            "get-history, first page of 25,000 points",
            timed(client, "GET", f"{API}/metrics/get-history", max(3, repeat // 4), params=page),
        )
    )
    started = time.perf_counter()
    total, token = 0, None
    while True:
        params: dict[str, Any] = dict(page)
        if token:
            params["page_token"] = token
        body = client.get(f"{API}/metrics/get-history", params=params).json()
        total += len(body.get("metrics", []))
        token = body.get("next_page_token")
        if not token:
            break
    elapsed = (time.perf_counter() - started) * 1000
    rows.append(Row(f"get-history, all {total:,} points (paged)", [elapsed], "one read"))
    return rows


def _cpu_busy() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def measure_ingest(
    backend_uri: str, workdir: Path, processes: int, seconds: float, threads_per_process: int
) -> dict[str, float]:
    with servers(processes, backend_uri, workdir) as running:
        clients = [httpx.Client(base_url=s.url, timeout=120) for s in running]
        exp = (
            clients[0]
            .post(
                f"{API}/experiments/create",
                json={"name": f"ingest-{processes}-{uuid.uuid4().hex[:6]}"},
            )
            .json()["experiment_id"]
        )
        stop = threading.Event()
        latencies: list[float] = []
        counts = collections.Counter[str]()
        lock = threading.Lock()

        def worker(index: int) -> None:
            client = httpx.Client(base_url=running[index % processes].url, timeout=120)
            run_id = client.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"][
                "info"
            ]["run_id"]
            step = 0
            while not stop.is_set():
                body = orjson.dumps(
                    {
                        "run_id": run_id,
                        "metrics": [
                            {
                                "key": "m",
                                "value": s * 0.5,
                                "timestamp": 1_700_000_000_000 + s,
                                "step": s,
                            }
                            for s in range(step, step + 1000)
                        ],
                    }
                )
                step += 1000
                started = time.perf_counter()
                answer = client.post(
                    f"{API}/runs/log-batch",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                elapsed = (time.perf_counter() - started) * 1000
                answer.raise_for_status()
                with lock:
                    latencies.append(elapsed)
                    counts["requests"] += 1
            client.close()

        workers = [
            threading.Thread(target=worker, args=(i,))
            for i in range(processes * threads_per_process)
        ]
        for w in workers:
            w.start()
        time.sleep(1.0)  # warm-up: every worker has created its run and sent requests
        with lock:
            latencies.clear()
            counts.clear()
        busy0, total0 = _cpu_busy()
        started = time.perf_counter()
        time.sleep(seconds)  # the measurement window
        with lock:
            requests = counts["requests"]
            window = list(latencies)
        elapsed = time.perf_counter() - started
        busy1, total1 = _cpu_busy()
        stop.set()
        for w in workers:
            w.join()
        for c in clients:
            c.close()
    return {
        "processes": processes,
        "threads": processes * threads_per_process,
        "points_per_s": requests * 1000 / elapsed,
        "requests_per_s": requests / elapsed,
        "p50_ms": statistics.median(window) if window else float("nan"),
        "p95_ms": percentile(window, 0.95) if window else float("nan"),
        "cpu_busy_pct": 100.0 * (busy1 - busy0) / max(1, total1 - total0),
    }


def profile_searches(server: Server, client: httpx.Client, exp_id: str, out: Path) -> list[str]:
    """py-spy on the server while searches run; the top functions by own and total time."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = out.with_suffix(".txt")
    proc = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(server.proc.pid),
            "--format",
            "raw",
            "-o",
            str(raw),
            "--rate",
            "200",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaching
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        measure_searches(client, exp_id, 3)
    proc.send_signal(2)
    proc.wait(timeout=30)
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{samples} samples in the server process during searches (idle waits included)."]
    lines.append("")
    lines.append("| own time | function |")
    lines.append("|---:|---|")
    for frame, count in own.most_common(12):
        lines.append(f"| {100 * count / max(1, samples):.1f}% | `{frame}` |")
    lines.append("")
    lines.append("| total time | function (modelyard frames) |")
    lines.append("|---:|---|")
    ours = [(f, c) for f, c in total.most_common() if "modelyard" in f][:12]
    for frame, count in ours:
        lines.append(f"| {100 * count / max(1, samples):.1f}% | `{frame}` |")
    return lines


# -- one backend -------------------------------------------------------------------------------
def bench_backend(
    backend: str, sizes: Sizes, args: argparse.Namespace, workdir: Path
) -> BackendResult:
    result = BackendResult(backend)
    with database(backend, workdir, args.keep) as uri:
        with servers(1, uri, workdir) as (server,):
            log(f"{backend}: generating {sizes}")
            made = generate(server.url, sizes, args.concurrency, seed_name=backend)
            result.made = made
            log(f"{backend}: generated in {made.seconds}")
            if backend == "postgresql":
                import psycopg

                with psycopg.connect(uri, autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE")
            with httpx.Client(base_url=server.url, timeout=300) as client:
                log(f"{backend}: searches")
                result.searches = measure_searches(client, made.experiment_id, args.repeat)
                log(f"{backend}: UI pages")
                result.pages, notes = measure_pages(
                    client, made.experiment_id, sizes, max(5, args.repeat // 2)
                )
                result.notes += notes
                log(f"{backend}: metric history")
                result.history = measure_history(
                    client, made.long_run_id, sizes.long_points, args.repeat
                )
                if args.profile:
                    log(f"{backend}: profiling searches")
                    result.profile = profile_searches(
                        server,
                        client,
                        made.experiment_id,
                        Path(args.out).with_name(f"scale-profile-{backend}"),
                    )
        # The measuring server is gone: ingest processes have the machine to themselves.
        if backend == "postgresql":
            for n in (1, 2, 3):
                log(f"{backend}: ingest with {n} process(es)")
                result.ingest.append(
                    measure_ingest(uri, workdir, n, args.ingest_seconds, args.threads_per_process)
                )
    return result


# -- report ------------------------------------------------------------------------------------
def _table(rows: list[Row], goal: float | None = None) -> list[str]:
    head = "| what | p50 ms | p95 ms | n | note |" + (" goal |" if goal else "")
    sep = "|---|---:|---:|---:|---|" + ("---|" if goal else "")
    out = [head, sep]
    for r in rows:
        line = f"| {r.label} | {r.p50:.1f} | {r.p95:.1f} | {len(r.times_ms)} | {r.note} |"
        if goal:
            line += f" {'✓' if r.p95 < goal else '✗'} |"
        out.append(line)
    return out


def report(results: list[BackendResult], sizes: Sizes, args: argparse.Namespace) -> str:
    load = os.getloadavg()
    lines = [
        f"# Scale benchmark ({'quick' if args.quick else 'full'} size)",
        "",
        f"Store: {sizes.runs:,} runs (5 params, 5 metrics, 3 tags each) in one experiment, "
        f"{sizes.points:,} metric points (one metric of {sizes.long_points:,}), "
        f"{sizes.models:,} registered models with one version each; filled through the REST "
        f"API by `bench/generate.py` ({args.concurrency} client threads). One `modelyard "
        f"server` process per backend unless stated; client and server share the machine "
        f"({os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"at the end). Times are client-side over loopback, {args.repeat} requests after 2 "
        "warm-ups.",
        "",
        f"Command: `.venv/bin/python bench/bench_scale.py{' --quick' if args.quick else ''}"
        f" --backends {','.join(args.backends)}`",
    ]
    for r in results:
        made = r.made
        lines += ["", f"## {r.backend}", ""]
        if made:
            s = made.seconds
            run_rate = made.runs / s["runs"] if s.get("runs") else 0
            lines.append(
                f"Generation: runs {s['runs']:.0f} s ({run_rate:,.0f} runs/s, each a "
                f"`runs/create` + a `log-batch` of {sizes.steps_per_metric * 5 + 8} entries), "
                f"{sizes.long_points:,}-point metric {s['long_metric']:.0f} s "
                f"({sizes.long_points / max(s['long_metric'], 1e-9):,.0f} points/s), "
                f"models {s['models']:.0f} s."
            )
        lines += [
            "",
            f"### Filtered run search (100 rows a page; goal p95 < {SEARCH_GOAL_MS:.0f} ms)",
            "",
        ]
        lines += _table(r.searches, SEARCH_GOAL_MS)
        if r.searches:
            every = [t for row in r.searches for t in row.times_ms]
            lines += [
                "",
                f"All searches together: p50 {statistics.median(every):.1f} ms, "
                f"p95 {percentile(every, 0.95):.1f} ms.",
            ]
        lines += ["", "### Web UI pages", ""]
        lines += _table(r.pages) if r.pages else ["(none measured)"]
        lines += [f"- {n}" for n in r.notes]
        lines += ["", "### Metric history of the long metric", ""]
        lines += _table(r.history)
        if r.ingest:
            base = r.ingest[0]["points_per_s"]
            lines += [
                "",
                f"### Ingest: `log-batch` of 1,000 points, {args.threads_per_process} client "
                f"threads per server process, {args.ingest_seconds:.0f} s window",
                "",
                "| processes | client threads | points/s | requests/s | p50 ms | p95 ms | "
                "speed-up | machine CPU busy |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for row in r.ingest:
                lines.append(
                    f"| {row['processes']:.0f} | {row['threads']:.0f} | {row['points_per_s']:,.0f} "
                    f"| {row['requests_per_s']:.1f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} "
                    f"| {row['points_per_s'] / base:.2f}× | {row['cpu_busy_pct']:.0f}% |"
                )
        if r.profile:
            lines += ["", "### Where search time goes (py-spy)", "", *r.profile]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1%% size smoke run")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument("--repeat", type=int, default=40, help="timed requests per measurement")
    parser.add_argument("--concurrency", type=int, default=4, help="generator client threads")
    parser.add_argument("--ingest-seconds", type=float, default=None, help="ingest window")
    parser.add_argument("--threads-per-process", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="py-spy the server during search")
    parser.add_argument("--keep", action="store_true", help="keep databases and work directories")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.ingest_seconds is None:
        args.ingest_seconds = 5.0 if args.quick else 20.0
    if args.out is None:
        args.out = str(HERE / "results" / ("scale-quick.md" if args.quick else "scale.md"))
    sizes = QUICK if args.quick else Sizes()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    results = []
    for backend in args.backends:
        workdir = Path(tempfile.mkdtemp(prefix=f"modelyard-scale-{backend}-"))
        try:
            results.append(bench_backend(backend, sizes, args, workdir))
        finally:
            if args.keep:
                log(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    text = report(results, sizes, args)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
