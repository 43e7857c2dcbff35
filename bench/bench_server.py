"""Benchmark modelyard against the stock `mlflow server`, side by side, in one run.

    python bench/bench_server.py [--quick] [--only NAME,...] [--mlflow-config best|all]
                                 [--out bench/results/latest.md]

Servers run one at a time (they would otherwise compete for the same cores), each
in a fresh temporary directory; every workload in `bench_workloads.py` runs against each
in turn; the table (see `bench_report.py`) is printed and written to --out. See
bench/README.md for what each row measures and the targets.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

# Run as a script (`python bench/bench_server.py`), its siblings are importable; imported
# from elsewhere (the unit test), make them so. The `bench_` prefixes keep these module
# names from colliding with test helpers such as tests/servers.py.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from bench_processes import (  # noqa: E402
    ALL_SERVERS,
    MLFLOW_DEFAULT,
    MLFLOW_W1,
    MODELYARD,
    ServerConfig,
    ServerFailed,
    cold_start,
    running,
    temp_workdir,
)
from bench_report import Cell, Metric, Target, render_table  # noqa: E402
from bench_workloads import FULL, QUICK, WORKLOADS, Context, Results, Sizes, run_workload  # noqa: E402

EXTRA_STEPS = ("cold-start", "memory")
STEP_NAMES = tuple(w.name for w in WORKLOADS) + EXTRA_STEPS
BASELINES = (MLFLOW_W1.name, MLFLOW_DEFAULT.name)
# `--mlflow-config best` runs only this configuration: on a small (2-core) machine it
# is the stronger of the two stock setups on most rows (see README, "Configurations").
BEST_MLFLOW = MLFLOW_W1


def server_metrics(s: Sizes) -> list[Metric]:
    runs = f"median of {s.cold_starts}"
    return [
        Metric(
            "cold_start_fresh",
            f"cold start, empty database ({runs})",
            "s",
            "lower",
            Target("max", 1.0),
        ),
        Metric(
            "cold_start_existing",
            f"cold start, after the workload ({runs})",
            "s",
            "lower",
            Target("max", 1.0),
        ),
        Metric("rss_start", "memory right after start, RSS of process tree", "MB", "lower"),
        Metric(
            "rss_idle",
            "idle memory after the workload, RSS of process tree",
            "MB",
            "lower",
            Target("max", 100),
        ),
        Metric("pss_idle", "idle memory after the workload, PSS of process tree", "MB", "lower"),
        Metric(
            "idle_cpu",
            "idle CPU after the workload, process tree",
            "% of a core",
            "lower",
            compare=False,
        ),
    ]


def all_metrics(s: Sizes, steps: Sequence[str]) -> list[Metric]:
    metrics = [m for w in WORKLOADS if w.name in steps for m in w.metrics(s)]
    extra = server_metrics(s)
    if "cold-start" in steps:
        metrics += [m for m in extra if m.key.startswith("cold_start")]
    if "memory" in steps:
        metrics += [m for m in extra if not m.key.startswith("cold_start")]
    return metrics


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def bench_server(config: ServerConfig, sizes: Sizes, steps: Sequence[str], keep: bool) -> Results:
    """Start one server, run the selected workloads against it, measure it, and stop it."""
    results: Results = {}
    workdirs = [temp_workdir(config.name)]
    fresh_starts: list[float] = []
    try:
        log(f"{config.label}: starting in {workdirs[0]}")
        try:
            with running(config, workdirs[0]) as server:
                assert server.ready_s is not None
                fresh_starts.append(server.ready_s)
                log(f"{config.label}: healthy after {fresh_starts[0]:.2f} s on {server.url}")
                if "memory" in steps:
                    time.sleep(2.0)
                    results["rss_start"] = Cell(server.memory()[0])
                ctx = Context(server.url, sizes)
                for workload in WORKLOADS:
                    if workload.name not in steps:
                        continue
                    t0 = time.perf_counter()
                    results.update(run_workload(workload, ctx))
                    log(f"{config.label}: {workload.name} done in {time.perf_counter() - t0:.1f} s")
                    if server.proc.poll() is not None:
                        raise ServerFailed(
                            f"{config.label} died during {workload.name}:\n" + server.log_tail()
                        )
                if "memory" in steps:
                    time.sleep(2.0)
                    settle = 5.0 if sizes is FULL else 2.0
                    results["idle_cpu"] = Cell(server.idle_cpu_percent(settle))
                    rss, pss, procs = server.memory()
                    note = f"{procs} processes" if procs > 1 else ""
                    results["rss_idle"] = Cell(rss, note)
                    results["pss_idle"] = Cell(pss)
        except ServerFailed as exc:
            log(str(exc))
            reason = str(exc).splitlines()[0].rstrip(":")
            missing = [m.key for m in all_metrics(sizes, steps) if m.key not in results]
            return results | {k: Cell.na(f"n/a: {reason}") for k in missing}
        if "cold-start" in steps:
            results.update(_cold_starts(config, sizes, workdirs, fresh_starts))
        return results
    finally:
        for d in workdirs:
            if keep:
                log(f"{config.label}: kept {d}")
            else:
                shutil.rmtree(d, ignore_errors=True)


def _cold_starts(
    config: ServerConfig, sizes: Sizes, workdirs: list[Path], fresh: list[float]
) -> Results:
    """Median time to first /health 200: on the populated work dir, and on empty ones."""
    existing: list[float] = []
    try:
        for _ in range(sizes.cold_starts):
            existing.append(cold_start(config, workdirs[0]))
        while len(fresh) < sizes.cold_starts:
            workdirs.append(temp_workdir(config.name))
            fresh.append(cold_start(config, workdirs[-1]))
    except ServerFailed as exc:
        log(str(exc))
        failed = Cell.na(f"error: {str(exc).splitlines()[0].rstrip(':')}")
        return {"cold_start_fresh": failed, "cold_start_existing": failed}
    log(f"{config.label}: cold starts fresh {fresh}, existing {existing}")
    return {
        "cold_start_fresh": Cell(statistics.median(fresh)),
        "cold_start_existing": Cell(statistics.median(existing)),
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """1-minute load average and CPU pressure: the machine is shared, so say how busy it was."""
    try:
        load = Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        load = "?"
    try:
        # "some avg60=…": share of the last minute in which runnable tasks waited for a CPU.
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        pressure = next(f.split("=")[1] for f in some if f.startswith("avg60="))
    except (OSError, IndexError, StopIteration):
        return load
    return f"{load} (CPU pressure {pressure}%)"


def preamble(
    sizes: Sizes,
    quick: bool,
    configs: Sequence[ServerConfig],
    argv: Sequence[str],
    loads: Sequence[str],
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"# modelyard vs mlflow server ({'quick' if quick else 'full'} run)",
            "",
            f"- command: `python bench/bench_server.py {' '.join(argv)}`".replace("  ", " "),
            f"- when: {when}; machine: {os.cpu_count()} CPUs, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}",
            f"- versions: mlflow {_version('mlflow')}, modelyard {_version('modelyard')}, "
            f"httpx {_version('httpx')}, uvicorn {_version('uvicorn')}",
            f"- servers (one at a time): {', '.join(c.label for c in configs)}",
            f"- 1-minute load average before each server and at the end: {'; '.join(loads)} "
            "(other processes on this machine share its cores)",
            f"- sizes: {sizes}",
            "- ↓ lower is better, ↑ higher is better; the ratio is always oriented so that "
            ">1 means modelyard is better than the best mlflow column (1 MB = 2^20 bytes).",
            "",
            "",
        ]
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="Small sizes (1,000 runs, 10k points, 10 MB …) for a fast smoke run.",
    )
    p.add_argument(
        "--only",
        default="",
        help=f"Comma-separated steps to run (default: all): {', '.join(STEP_NAMES)}.",
    )
    p.add_argument(
        "--mlflow-config",
        default="all",
        help="Stock mlflow configurations to run: 'all' (workers 1 and the default), "
        f"'best' (only {BEST_MLFLOW.label}), 'none', or a comma list of "
        f"{MLFLOW_W1.name},{MLFLOW_DEFAULT.name}.",
    )
    p.add_argument("--no-modelyard", action="store_true", help="Run the mlflow servers only.")
    p.add_argument("--out", default="bench/results/latest.md", help="Markdown file to write.")
    p.add_argument("--keep", action="store_true", help="Keep the servers' temporary directories.")
    return p.parse_args(argv)


def select_configs(args: argparse.Namespace) -> list[ServerConfig]:
    by_name = {c.name: c for c in ALL_SERVERS}
    if args.mlflow_config == "all":
        chosen = [MLFLOW_W1, MLFLOW_DEFAULT]
    elif args.mlflow_config == "best":
        chosen = [BEST_MLFLOW]
    elif args.mlflow_config == "none":
        chosen = []
    else:
        names = [n.strip() for n in args.mlflow_config.split(",") if n.strip()]
        unknown = [n for n in names if n not in BASELINES]
        if unknown:
            raise SystemExit(f"unknown --mlflow-config {unknown}; use all, best or {BASELINES}")
        chosen = [by_name[n] for n in names]
    return chosen if args.no_modelyard else [*chosen, MODELYARD]


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # SIGTERM should unwind like Ctrl-C, so the `finally` blocks stop the servers.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    args = parse_args(argv)
    steps = [s.strip() for s in args.only.split(",") if s.strip()] or list(STEP_NAMES)
    unknown = [s for s in steps if s not in STEP_NAMES]
    if unknown:
        raise SystemExit(f"unknown --only steps {unknown}; choose from {', '.join(STEP_NAMES)}")
    sizes = QUICK if args.quick else FULL
    configs = select_configs(args)
    started = time.perf_counter()
    results: dict[str, Results] = {}
    loads: list[str] = []
    for config in configs:
        loads.append(load_average())
        results[config.name] = bench_server(config, sizes, steps, args.keep)
    loads.append(load_average())
    table = render_table(
        all_metrics(sizes, steps),
        [(c.name, c.label) for c in ALL_SERVERS],
        results,
        subject=MODELYARD.name,
        baselines=BASELINES,
    )
    doc = preamble(sizes, args.quick, configs, argv, loads) + table
    doc += f"\nTotal benchmark time: {time.perf_counter() - started:.0f} s.\n"
    print(doc)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
