"""Benchmark modelyard against the stock `mlflow server` and FastTrackML, side by side.

    python bench/bench_server.py [--quick] [--only NAME,...] [--mlflow-config best|all]
                                 [--no-fasttrackml] [--out bench/results/latest.md]

Servers run one at a time (they would otherwise compete for the same cores), each
in a fresh temporary directory; every workload in `bench_workloads.py` runs against each
in turn; the table (see `bench_report.py`) is printed and written to --out, the raw
numbers beside it as JSON (same name, .json). The 1-minute load average is read before
and after each server's turn; a turn during which it moved by more than 1.0 is flagged,
and so is every ratio that rests on it. See bench/README.md for what each row measures.
FastTrackML (binary `fml`, pinned in bench/requirements.txt) lives in a venv of the
bench's own, bench/.peers/fasttrackml, which `--install-peers` creates.
"""

from __future__ import annotations

import argparse
import json
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
    FASTTRACKML,
    FASTTRACKML_VENV,
    MLFLOW_DEFAULT,
    MLFLOW_W1,
    MODELYARD,
    ServerConfig,
    ServerFailed,
    cold_start,
    fasttrackml_binary,
    install_fasttrackml,
    running,
    temp_workdir,
)
from bench_report import Cell, Metric, Target, load_moved, render_table  # noqa: E402
from bench_workloads import FULL, QUICK, WORKLOADS, Context, Results, Sizes, run_workload  # noqa: E402

EXTRA_STEPS = ("cold-start", "memory")
STEP_NAMES = tuple(w.name for w in WORKLOADS) + EXTRA_STEPS
MLFLOW_CONFIGS = (MLFLOW_W1.name, MLFLOW_DEFAULT.name)
BASELINES = (*MLFLOW_CONFIGS, FASTTRACKML.name)
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
        pass
    # FastTrackML lives in the bench's own venv (bench/.peers), not in this one.
    for site in FASTTRACKML_VENV.glob("lib/python*/site-packages"):
        for found in metadata.distributions(path=[str(site)]):
            if (found.metadata["Name"] or "").lower() == dist:
                return found.version
    return "not installed"


def load_1min() -> float:
    return os.getloadavg()[0]


def load_average() -> str:
    """1-minute load average and CPU pressure: the machine is shared, so say how busy it was."""
    load = f"{load_1min():.2f}"
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
    loads: dict[str, tuple[str, str, bool]],
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    turns = "; ".join(
        f"{c.label} {loads[c.name][0]} → {loads[c.name][1]}"
        + (" ⚠ moved by more than 1.0" if loads[c.name][2] else "")
        for c in configs
        if c.name in loads
    )
    return "\n".join(
        [
            f"# modelyard vs mlflow server and FastTrackML ({'quick' if quick else 'full'} run)",
            "",
            f"- command: `python bench/bench_server.py {' '.join(argv)}`".replace("  ", " "),
            f"- when: {when}; machine: {os.cpu_count()} CPUs, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}",
            f"- versions: mlflow {_version('mlflow')}, FastTrackML {_version('fasttrackml')}, "
            f"modelyard {_version('modelyard')}, "
            f"httpx {_version('httpx')}, uvicorn {_version('uvicorn')}",
            f"- servers (one at a time): {', '.join(c.label for c in configs)}",
            f"- 1-minute load average before → after each server's turn: {turns} (other "
            "processes share this machine's cores; a ratio resting on a turn whose load moved "
            "by more than 1.0 is marked ⚠)",
            f"- sizes: {sizes}",
            "- ↓ lower is better, ↑ higher is better; the ratio is always oriented so that "
            ">1 means modelyard is better than the best peer column (1 MB = 2^20 bytes).",
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
    p.add_argument("--no-modelyard", action="store_true", help="Run the peers only.")
    p.add_argument(
        "--no-fasttrackml",
        action="store_true",
        help="Leave FastTrackML out (it runs whenever `fml` is installed).",
    )
    p.add_argument(
        "--install-peers",
        action="store_true",
        help="First install FastTrackML into bench/.peers/fasttrackml (its own venv).",
    )
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
        unknown = [n for n in names if n not in MLFLOW_CONFIGS]
        if unknown:
            raise SystemExit(
                f"unknown --mlflow-config {unknown}; use all, best or {MLFLOW_CONFIGS}"
            )
        chosen = [by_name[n] for n in names]
    if not args.no_fasttrackml:
        if fasttrackml_binary() is None:
            log("FastTrackML left out: no `fml` (run once with --install-peers)")
        else:
            chosen.append(FASTTRACKML)
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
    if args.install_peers:
        log(f"FastTrackML: {install_fasttrackml()}")
    configs = select_configs(args)
    started = time.perf_counter()
    results: dict[str, Results] = {}
    loads: dict[str, tuple[str, str, bool]] = {}
    raw_loads: dict[str, dict[str, float]] = {}
    for config in configs:
        before, before_text = load_1min(), load_average()
        log(f"{config.label}: load average before {before_text}")
        results[config.name] = bench_server(config, sizes, steps, args.keep)
        after, after_text = load_1min(), load_average()
        log(f"{config.label}: load average after {after_text}")
        loads[config.name] = (before_text, after_text, load_moved(before, after))
        raw_loads[config.name] = {"before": before, "after": after}
    table = render_table(
        all_metrics(sizes, steps),
        [(c.name, c.label) for c in ALL_SERVERS if c.name in results],
        results,
        subject=MODELYARD.name,
        baselines=BASELINES,
        unsteady=[name for name, (_, _, moved) in loads.items() if moved],
        stock=MLFLOW_CONFIGS,
    )
    doc = preamble(sizes, args.quick, configs, argv, loads) + table
    doc += f"\nTotal benchmark time: {time.perf_counter() - started:.0f} s.\n"
    print(doc)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc)
    raw = {
        "command": ["bench/bench_server.py", *argv],
        "when": datetime.now(UTC).isoformat(),
        "sizes": sizes.__dict__,
        "load_average": raw_loads,
        "results": {
            server: {key: {"value": c.value, "note": c.note} for key, c in cells.items()}
            for server, cells in results.items()
        },
    }
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    log(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
