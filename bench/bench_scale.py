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
* ingest from many writers (`bench_ingest.py`): 1, 8, 16 and 64 clients sending
  log-batch of 100 and of 1,000 points, on SQLite (one process) and PostgreSQL (1 and
  2 processes): points/s, p50/p95, errors, and every point counted back.

`--parts` picks what to run (`history` alone logs just the long metric, so the
million-point rows take minutes rather than the 100k-run fill). The report keeps
the raw numbers beside it (same name, .json) and the load average around each part.

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

from bench_ingest import IngestCell, as_json, measure_matrix  # noqa: E402
from bench_ingest import table as ingest_table  # noqa: E402
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
    ingest: list[IngestCell] = field(default_factory=list)
    loads: list[tuple[str, float, float]] = field(default_factory=list)
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
        # orjson, not httpx's stdlib json: parsing 25,000 points with the stdlib takes
        # the client ~30 ms a page, a third of the read on this machine, and the row
        # measures the server.
        body = orjson.loads(client.get(f"{API}/metrics/get-history", params=params).content)
        total += len(body.get("metrics", []))
        token = body.get("next_page_token")
        if not token:
            break
    elapsed = (time.perf_counter() - started) * 1000
    rows.append(Row(f"get-history, all {total:,} points (paged)", [elapsed], "one read"))
    return rows


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
@contextmanager
def _server_urls(count: int, uri: str, workdir: Path) -> Iterator[list[tuple[str, int]]]:
    with servers(count, uri, workdir) as running:
        yield [(s.url, s.proc.pid) for s in running]


def load_long_metric(url: str, points: int, threads: int = 4) -> str:
    """A run with one `points`-point metric (`LONG_METRIC`), logged 1,000 a request."""
    with httpx.Client(base_url=url, timeout=300) as client:
        exp = client.post(
            f"{API}/experiments/create", json={"name": f"long-{uuid.uuid4().hex}"}
        ).json()["experiment_id"]
        run_id: str = client.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"][
            "info"
        ]["run_id"]
    starts = list(range(0, points, 1000))

    def part(index: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            for start in starts[index::threads]:
                body = {
                    "run_id": run_id,
                    "metrics": [
                        {"key": LONG_METRIC, "value": 1.0 / (s + 1),
                         "timestamp": 1_700_000_000_000 + s, "step": s}
                        for s in range(start, min(start + 1000, points))
                    ],
                }  # fmt: skip
                client.post(f"{API}/runs/log-batch", json=body).raise_for_status()

    workers = [threading.Thread(target=part, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return run_id


def bench_backend(
    backend: str, sizes: Sizes, args: argparse.Namespace, workdir: Path
) -> BackendResult:
    result = BackendResult(backend)
    parts = args.parts
    with database(backend, workdir, args.keep) as uri:
        if parts & {"search", "pages", "history"}:
            before = os.getloadavg()[0]
            with (
                servers(1, uri, workdir) as (server,),
                httpx.Client(base_url=server.url, timeout=300) as client,
            ):
                long_run_id = None
                if parts & {"search", "pages"}:
                    log(f"{backend}: generating {sizes}")
                    made = generate(server.url, sizes, args.concurrency, seed_name=backend)
                    result.made = made
                    long_run_id = made.long_run_id
                    log(f"{backend}: generated in {made.seconds}")
                elif "history" in parts:
                    log(f"{backend}: logging a {sizes.long_points:,}-point metric")
                    long_run_id = load_long_metric(server.url, sizes.long_points)
                if backend == "postgresql":
                    import psycopg

                    with psycopg.connect(uri, autocommit=True) as conn:
                        conn.execute("VACUUM ANALYZE")
                if result.made is not None and "search" in parts:
                    log(f"{backend}: searches")
                    result.searches = measure_searches(
                        client, result.made.experiment_id, args.repeat
                    )
                if result.made is not None and "pages" in parts:
                    log(f"{backend}: UI pages")
                    result.pages, notes = measure_pages(
                        client, result.made.experiment_id, sizes, max(5, args.repeat // 2)
                    )
                    result.notes += notes
                if "history" in parts and long_run_id is not None:
                    log(f"{backend}: metric history")
                    result.history = measure_history(
                        client, long_run_id, sizes.long_points, args.repeat
                    )
                if args.profile and result.made is not None:
                    log(f"{backend}: profiling searches")
                    result.profile = profile_searches(
                        server,
                        client,
                        result.made.experiment_id,
                        Path(args.out).with_name(f"scale-profile-{backend}"),
                    )
            result.loads.append(("reads", before, os.getloadavg()[0]))
        # The measuring server is gone: ingest processes have the machine to themselves.
        if "ingest" in parts:
            for processes in (1,) if backend == "sqlite" else (1, 2):
                result.ingest += measure_matrix(
                    backend,
                    processes,
                    lambda n: _server_urls(n, uri, workdir),
                    args.ingest_seconds,
                    log=log,
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
        f"Command: `.venv/bin/python bench/bench_scale.py {' '.join(sys.argv[1:])}`".replace(
            " `", "`"
        ),
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
        if r.loads:
            lines += [""] + [
                f"Load average (1 min) during {what}: {a:.1f} → {b:.1f}"
                + (" ⚠ moved by more than 1.0" if abs(b - a) > 1.0 else "")
                for what, a, b in r.loads
            ]
        if r.ingest:
            lines += [
                "",
                f"### Ingest from many writers: `log-batch`, {args.ingest_seconds:.0f} s window "
                "per cell, every point counted back",
                "",
                "Goals: ≥ 150k points/s on SQLite with 8+ writers, ≥ 100k on PostgreSQL with one "
                "process, p95 < 100 ms and no error or lost point at 64 writers.",
                "",
                *ingest_table(r.ingest),
            ]
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
    parser.add_argument("--profile", action="store_true", help="py-spy the server during search")
    parser.add_argument("--keep", action="store_true", help="keep databases and work directories")
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--parts",
        default="search,pages,history,ingest",
        help="comma-separated: search,pages (need the 100k-run store), history (the long "
        "metric alone when search/pages are not asked for), ingest",
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if args.ingest_seconds is None:
        args.ingest_seconds = 3.0 if args.quick else 8.0
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
    raw = {
        "argv": sys.argv[1:],
        "load_average_end": os.getloadavg(),
        "backends": {
            r.backend: {
                "searches": [(row.label, row.times_ms) for row in r.searches],
                "pages": [(row.label, row.times_ms) for row in r.pages],
                "history": [(row.label, row.times_ms) for row in r.history],
                "ingest": as_json(r.ingest),
                "loads": r.loads,
            }
            for r in results
        },
    }
    Path(args.out).with_suffix(".json").write_bytes(
        orjson.dumps(raw, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    )
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
