"""Run search at scale, straight through the SQL tracking store: timed and checked.

    python bench/bench_search.py [--runs 100000] [--other-runs 0] [--repeat 15]
                                 [--backends sqlite,postgresql] [--only NAME,...]

Fills one experiment ("bench") with `--runs` runs, each with 5 params, 5 metrics
and 3 tags, a 50-run experiment ("tiny") with the same keys, and optionally
`--other-runs` more runs in a third experiment, into a temporary SQLite file and
a throwaway PostgreSQL database (``modelyard_bench_<random>`` on
127.0.0.1:5432 as user postgres, dropped at the end). Then it times
`SqlTrackingStore.search_run_infos` (compile, run the id query, load the infos)
for a set of searches and prints p50/p95/max per backend.

The data has the awkward cases on purpose: tied metric values (3 decimals) and
tied start times (runs come in pairs), NaN metrics, a metric half the runs lack,
a param a fifth of the runs lack, tag values that share a 250-character prefix,
one 6,000-character param and one 8,000-character tag (the longest MLflow
accepts), and a few runs without a start time. Every answer is compared with the
order computed in Python from the generated rows (MLflow's rules: values, then
NaN, then missing; ties by start_time DESC, NULL last, then run id), so a fast
wrong answer fails loudly instead of passing as a win.

Filling bulk-inserts rows into the store's own tables in one transaction, as
bench_ui.py does (creating 100,000 runs one request at a time would take minutes
and measures the write path, which bench_server.py covers); a few runs are also
created through the store's API and read back to check the bulk rows are shaped
like the store's own. PostgreSQL gets a VACUUM ANALYZE after the load, as
autovacuum would do within a minute or two; SQLite gets no ANALYZE, since
modelyard never runs one.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.entities import Metric, Param, RunInfo, Tag
from modelyard.service.search_filter import (
    decode_page_token,
    parse_run_filter,
    parse_run_order_by,
)
from modelyard.store.sql import migrations
from modelyard.store.sql.db import Database
from modelyard.store.sql.tracking import SqlTrackingStore

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
T0 = 1_700_000_000_000
NAN = float("nan")
LRS = ["0.1", "0.03", "0.01", "0.001", "0.0001"]
TEAMS = ["vision", "nlp", "speech", "ops"]


@dataclass
class BenchRun:
    run_id: str
    experiment_id: int
    start_time: int | None
    stage: str = "active"
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def generate(experiment_id: int, count: int, rng: random.Random, first: int) -> list[BenchRun]:
    runs = []
    for i in range(count):
        n = first + i
        # Pairs of runs share a start time; one run in a thousand has none.
        start = None if n % 1000 == 999 else T0 + (n // 2) * 1000
        run = BenchRun(uuid.UUID(int=rng.getrandbits(128)).hex, experiment_id, start)
        if n % 200 == 7:
            run.stage = "deleted"
        run.metrics = {
            "accuracy": NAN if rng.random() < 0.01 else round(rng.random(), 3),
            "loss": rng.expovariate(1.0),
            "precision": round(rng.random(), 2),
            "recall": rng.random(),
        }
        if rng.random() < 0.5:
            run.metrics["f1"] = NAN if rng.random() < 0.05 else round(rng.random(), 3)
        run.params = {
            "lr": rng.choice(LRS),
            "batch_size": str(rng.choice([16, 32, 64, 128, 256])),
            "layers": str(rng.randint(1, 12)),
            "seed": str(n),
            # As bench_scale's generated runs: a 2% equality filter (depth) and a
            # key with nearly one value per run (wd) to sort by.
            "depth": str(rng.randint(2, 48)),
            "wd": str(round(10 ** rng.uniform(-5, -1), 6)),
        }
        if rng.random() < 0.8:
            run.params["optimizer"] = rng.choice(["adam", "sgd", "rmsprop"])
        run.tags = {"team": rng.choice(TEAMS), "stage": rng.choice(["dev", "prod"])}
        if rng.random() < 0.3:
            # Long values sharing their first 250 characters.
            run.tags["note"] = "n" * 250 + str(rng.randint(0, 9))
        else:
            run.tags["note"] = f"note {rng.randint(0, 999):03d}"
        runs.append(run)
    return runs


def fill(db: Database, runs: Sequence[BenchRun]) -> None:
    run_rows, metric_rows, param_rows, tag_rows = [], [], [], []
    for r in runs:
        start = r.start_time
        run_rows.append(
            (
                r.run_id,
                r.experiment_id,
                f"run-{r.run_id[:8]}",
                "bench",
                "FINISHED",
                start,
                None if start is None else start + 600_000,
                f"/artifacts/{r.run_id}",
                r.stage,
            )
        )
        for key, value in r.metrics.items():
            nan = math.isnan(value)
            metric_rows.append((r.run_id, key, 10, T0, 0.0 if nan else value, int(nan)))
        param_rows.extend((r.run_id, k, v) for k, v in r.params.items())
        tag_rows.extend((r.run_id, k, v) for k, v in r.tags.items())
    with db.write() as tx:
        tx.executemany(
            "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, "
            "end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            run_rows,
        )
        tx.executemany(
            "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            metric_rows,
        )
        tx.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)", param_rows)
        tx.executemany("INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)", tag_rows)


def via_store(store: SqlTrackingStore, experiment_id: int, rng: random.Random) -> list[BenchRun]:
    """A few runs through the store's own API, the longest values MLflow allows included."""
    made = []
    for i in range(3):
        run = BenchRun(uuid.UUID(int=rng.getrandbits(128)).hex, experiment_id, T0 - 1000 * i)
        run.metrics = {"accuracy": [0.5, NAN, 1.0][i], "loss": 0.25}
        run.params = {"lr": "0.01", "seed": "s" * 6000 if i == 0 else f"store-{i}"}
        run.tags = {"team": "vision", "note": "t" * 8000 if i == 1 else "short"}
        info = RunInfo(
            run.run_id, str(experiment_id), "", "bench", "FINISHED", run.start_time,
            None, f"/artifacts/{run.run_id}", "active",
        )  # fmt: skip
        store.create_run(info, [])
        store.log_batch(
            run.run_id,
            [Metric(k, v, T0, 10) for k, v in run.metrics.items()],
            [Param(k, v) for k, v in run.params.items()],
            [Tag(k, v) for k, v in run.tags.items()],
        )
        made.append(run)
    return made


# -- the searches and their expected answers -------------------------------------


@dataclass(frozen=True)
class Query:
    name: str
    experiment: str  # "bench" or "tiny"
    filter_string: str = ""
    order_by: tuple[str, ...] = ()
    max_results: int = 100
    offset: int = 0
    where: Callable[[BenchRun], bool] = lambda run: True


def _order_value(run: BenchRun, entity: str, key: str) -> tuple[int, float | str | int | None]:
    """(segment, value): segment 0 has a value, 1 is NaN, 2 lacks the key."""
    if entity == "metrics":
        value = run.metrics.get(key)
        if value is None:
            return 2, None
        return (1, None) if math.isnan(value) else (0, value)
    if entity == "params":
        found = run.params.get(key)
    elif entity == "tags":
        found = run.tags.get(key)
    else:
        assert key == "start_time"
        return (1, None) if run.start_time is None else (0, run.start_time)
    return (2, None) if found is None else (0, found)


def expected(runs: Sequence[BenchRun], q: Query) -> list[str]:
    chosen = [r for r in runs if r.stage == "active" and q.where(r)]
    # Stable sorts, last key first: run id, start_time DESC (NULL last), then the order keys.
    chosen.sort(key=lambda r: r.run_id)
    chosen.sort(key=lambda r: -1 if r.start_time is None else r.start_time, reverse=True)
    for spec in reversed(q.order_by):
        words = spec.split()
        ascending = len(words) == 1 or words[1].upper() == "ASC"
        entity, key = words[0].split(".", 1)
        with_value = [r for r in chosen if _order_value(r, entity, key)[0] == 0]
        with_value.sort(key=lambda r: _order_value(r, entity, key)[1], reverse=not ascending)  # type: ignore[arg-type,return-value]
        rest = [r for r in chosen if _order_value(r, entity, key)[0] != 0]
        rest.sort(key=lambda r: _order_value(r, entity, key)[0])
        chosen = with_value + rest
    return [r.run_id for r in chosen[q.offset : q.offset + q.max_results]]


def queries(runs: int) -> list[Query]:
    deep = runs * 3 // 4  # inside the runs without f1
    return [
        Query("default order", "bench"),
        Query("metrics.accuracy DESC", "bench", order_by=("metrics.accuracy DESC",)),
        Query("metrics.accuracy ASC", "bench", order_by=("metrics.accuracy ASC",)),
        Query("metrics.accuracy DESC, 1000", "bench", order_by=("metrics.accuracy DESC",),
              max_results=1000),
        Query("metrics.accuracy DESC, offset 5000", "bench", order_by=("metrics.accuracy DESC",),
              offset=5000),
        Query(f"metrics.f1 ASC, offset {deep}", "bench", order_by=("metrics.f1 ASC",),
              offset=deep),
        Query("params.lr ASC", "bench", order_by=("params.lr ASC",)),
        Query("params.optimizer DESC", "bench", order_by=("params.optimizer DESC",)),
        Query("tags.note DESC", "bench", order_by=("tags.note DESC",)),
        Query("params.lr, metrics.loss DESC", "bench",
              order_by=("params.lr ASC", "metrics.loss DESC")),
        Query("attributes.start_time ASC", "bench", order_by=("attributes.start_time ASC",)),
        Query("filter lr, default order", "bench", "params.lr = '0.01'",
              where=lambda r: r.params.get("lr") == "0.01"),
        Query("filter acc>0.5 & lr, acc DESC", "bench",
              "metrics.accuracy > 0.5 and params.lr = '0.01'",
              order_by=("metrics.accuracy DESC",),
              where=lambda r: r.metrics["accuracy"] > 0.5 and r.params.get("lr") == "0.01"),
        Query("filter seed (1 run), acc DESC", "bench", "params.seed = '4242'",
              order_by=("metrics.accuracy DESC",),
              where=lambda r: r.params.get("seed") == "4242"),
        Query("filter depth (2%), wd ASC", "bench", "params.depth = '12'",
              order_by=("params.wd ASC",), where=lambda r: r.params.get("depth") == "12"),
        Query("filter depth (2%), acc DESC", "bench", "params.depth = '12'",
              order_by=("metrics.accuracy DESC",),
              where=lambda r: r.params.get("depth") == "12"),
        Query("filter depth & team, wd DESC", "bench",
              "params.depth = '12' and tags.team = 'nlp'", order_by=("params.wd DESC",),
              where=lambda r: r.params.get("depth") == "12" and r.tags["team"] == "nlp"),
        Query("filter team (25%), wd ASC", "bench", "tags.team = 'nlp'",
              order_by=("params.wd ASC",), where=lambda r: r.tags["team"] == "nlp"),
        Query("tiny experiment, acc DESC", "tiny", order_by=("metrics.accuracy DESC",)),
    ]  # fmt: skip


# -- backends ----------------------------------------------------------------------


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_url() -> Iterator[str]:
    import psycopg

    name = f"modelyard_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def cpu_seconds(db: Database) -> float:
    """CPU time of this process and, on PostgreSQL, of the database's backends (/proc)."""
    total = time.process_time()
    if db.dialect == "postgresql":
        with db.read() as tx:
            pids = [r[0] for r in tx.all(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]  # fmt: skip
        tick = os.sysconf("SC_CLK_TCK")
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, PermissionError):
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_backend(
    url: str, args: argparse.Namespace, log: Callable[[str], None]
) -> tuple[dict[str, list[float]], dict[str, float]]:
    db = Database(url)
    migrations.upgrade(db)
    store = SqlTrackingStore(db)
    rng = random.Random(7)
    ids = {}
    with db.write() as tx:
        for name in ("bench", "tiny", "other"):
            ids[name] = int(
                tx.scalar(
                    "INSERT INTO experiments (name, artifact_location, creation_time, "
                    "last_update_time) VALUES (?, ?, 0, 0) RETURNING experiment_id",
                    (name, f"/artifacts/{name}"),
                )
            )
    started = time.perf_counter()
    bench = generate(ids["bench"], args.runs, rng, 0)
    tiny = generate(ids["tiny"], 50, rng, args.runs)
    other = generate(ids["other"], args.other_runs, rng, args.runs + 50)
    for chunk in range(0, len(bench), 20_000):
        fill(db, bench[chunk : chunk + 20_000])
    fill(db, tiny)
    for chunk in range(0, len(other), 20_000):
        fill(db, other[chunk : chunk + 20_000])
    bench += via_store(store, ids["bench"], rng)
    check = store.get_run(bench[0].run_id)
    assert {p.key: p.value for p in check.data.params} == bench[0].params
    if db.dialect == "postgresql":
        import psycopg

        # What autovacuum does to a freshly loaded table within a minute or so: the
        # statistics, and the visibility map that index-only scans rely on.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    log(f"{db.dialect}: filled {len(bench) + len(tiny) + len(other):,} runs "
        f"in {time.perf_counter() - started:.1f}s")  # fmt: skip

    timings: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    for q in queries(args.runs):
        if args.only and q.name not in args.only:
            continue
        want = expected(bench if q.experiment == "bench" else tiny, q)
        filters = parse_run_filter(q.filter_string)
        order = parse_run_order_by(list(q.order_by))

        def search(q: Query = q, filters: list = filters, order: list = order) -> list[str]:  # type: ignore[type-arg]
            page = store.search_run_infos(
                [str(ids[q.experiment])], filters, "ACTIVE_ONLY", q.max_results, order, q.offset
            )
            if page.next_page_token is not None:
                assert decode_page_token(page.next_page_token) == q.offset + q.max_results
            return [info.run_id for info in page.items]

        got = search()
        if got != want:
            first = next(i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)
            raise SystemExit(
                f"{db.dialect}: wrong answer for {q.name!r}: {len(got)} ids vs "
                f"{len(want)} expected, first difference at {first}"
            )
        samples = []
        deadline = time.perf_counter() + args.budget
        cpu_before = cpu_seconds(db)
        for _ in range(args.repeat):
            t = time.perf_counter()
            search()
            samples.append((time.perf_counter() - t) * 1000)
            if time.perf_counter() > deadline:
                break
        # Mean CPU per search (this process, plus PostgreSQL's backends): the
        # figure a loaded machine inflates least.
        cpu[q.name] = (cpu_seconds(db) - cpu_before) * 1000 / len(samples)
        timings[q.name] = samples
    db.close()
    return timings, cpu


def table(results: dict[str, dict[str, list[float]]], cpu: dict[str, dict[str, float]]) -> str:
    backends = list(results)
    head = "| search (100 per page unless said) | " + " | ".join(
        f"{b} p50 | {b} p95 | {b} max | {b} CPU" for b in backends
    )
    lines = [head + " |", "|---" * (1 + 4 * len(backends)) + "|"]
    names = list(next(iter(results.values())))
    for name in names:
        cells = []
        for b in backends:
            s = results[b].get(name, [])
            if s:
                cells += [f"{statistics.median(s):.1f}", f"{percentile(s, 0.95):.1f}",
                          f"{max(s):.1f}", f"{cpu[b][name]:.1f}"]  # fmt: skip
            else:
                cells += ["-", "-", "-", "-"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (
        "\n\nTimes in ms, one thread, warm cache. CPU: mean CPU ms per search of this "
        "process and (PostgreSQL) the database's backends, from /proc in 10 ms ticks."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--other-runs", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per search")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--only", type=lambda s: s.split(","), default=None)
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results, cpu, loads = {}, {}, []
    for backend in args.backends.split(","):
        factory = {"sqlite": sqlite_url, "postgresql": postgres_url}[backend]
        before = os.getloadavg()[0]
        with factory() as url:
            results[backend], cpu[backend] = run_backend(url, args, log)
        after = os.getloadavg()[0]
        moved = " ⚠ moved by more than 1.0" if abs(after - before) > 1.0 else ""
        loads.append(f"{backend} {before:.2f} → {after:.2f}{moved}")
    print(f"{args.runs:,} runs in the searched experiment, {args.other_runs:,} elsewhere")
    print("1-minute load average before → after each backend: " + "; ".join(loads))
    print(table(results, cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
