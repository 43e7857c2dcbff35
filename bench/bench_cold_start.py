"""Cold start of `modelyard server`: spawn → first 200, and what the first requests cost.

Issue 15 asks for a served request within 0.3 s of starting the process. Each
repeat spawns `modelyard server` (SQLite, one process) in a fresh temporary
directory, polls `/health` every 2 ms until it answers 200, then sends the first
request of a few kinds (a run search, the experiment page of the web UI) and
reads the server's CPU time from /proc. The CPU time of the process at its first
200 is the figure a loaded machine does not inflate much; the wall-clock figures
are printed beside the 1-minute load average before and after.

    .venv/bin/python bench/bench_cold_start.py [--repeat 10] [--existing]

Before the first start the bench compiles modelyard's sources to bytecode, as
installing the wheel does (`pip install` writes the .pyc files): an editable
checkout run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile about 70
modules from source at every start, 70-80 ms of CPU no installed server pays.
`--no-bytecode` skips that step (and says so).

`--existing` restarts on one directory (the schema is already there) instead of
a fresh one each time. Raw numbers go to bench/raw/cold-start.json (`--raw`).
The server is the `modelyard` next to the Python running this script, so
`/other/venv/bin/python bench/bench_cold_start.py --raw …` measures another checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_processes import MODELYARD, RunningServer, temp_workdir, tree_cpu_seconds

RAW = Path(__file__).resolve().parent / "raw" / "cold-start.json"


def one_start(workdir: Path) -> dict[str, float]:
    server = RunningServer(MODELYARD, workdir)
    try:
        with httpx.Client(timeout=5.0) as client:
            deadline = server.started + 60
            while True:
                if server.proc.poll() is not None:
                    raise RuntimeError("server exited:\n" + server.log_tail())
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{server.url}/health").status_code == 200:
                        ready = time.perf_counter() - server.started
                        break
                if time.perf_counter() > deadline:
                    raise RuntimeError("no 200 from /health:\n" + server.log_tail())
                time.sleep(0.002)
            cpu_ready = tree_cpu_seconds(server.proc.pid)
            out = {"ready_s": ready, "cpu_at_ready_s": cpu_ready}
            for name, method, path, body in (
                ("first_search_ms", "POST", "/api/2.0/mlflow/runs/search",
                 {"experiment_ids": ["0"], "max_results": 10}),
                ("first_create_ms", "POST", "/api/2.0/mlflow/runs/create",
                 {"experiment_id": "0"}),
                ("first_ui_page_ms", "GET", "/#/experiments/0", None),
                ("first_ui_experiment_ms", "GET", "/experiments/0", None),
            ):  # fmt: skip
                t0 = time.perf_counter()
                response = client.request(method, f"{server.url}{path}", json=body)
                out[name] = (time.perf_counter() - t0) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
            out["cpu_after_first_requests_s"] = tree_cpu_seconds(server.proc.pid)
            return out
    finally:
        server.stop()


def compile_bytecode() -> None:
    """Write modelyard's .pyc files, as `pip install` does for an installed server."""
    subprocess.run(
        [sys.executable, "-c", "import compileall, modelyard, os; "
         "compileall.compile_dir(os.path.dirname(modelyard.__file__), quiet=1)"],
        check=True,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--existing", action="store_true", help="restart on one directory")
    parser.add_argument("--raw", type=Path, default=RAW, help="where to write the raw JSON")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="do not compile modelyard's .pyc files first"
    )
    args = parser.parse_args()
    if not args.no_bytecode:
        compile_bytecode()
    load_before = os.getloadavg()[0]
    shared = temp_workdir("cold") if args.existing else None
    if shared is not None:
        one_start(shared)  # creates the schema
    rows = [one_start(shared or temp_workdir("cold")) for _ in range(args.repeat)]
    load_after = os.getloadavg()[0]
    print(f"modelyard cold start, {args.repeat} repeats, "
          f"{'existing' if args.existing else 'fresh'} directory, "
          f"{'bytecode as found' if args.no_bytecode else 'bytecode compiled'}; "
          f"load average (1 min) {load_before:.2f} → {load_after:.2f}")  # fmt: skip
    print(f"{'what':32} {'min':>9} {'median':>9} {'max':>9}")
    for key in rows[0]:
        values = [r[key] for r in rows]
        scale, unit = (1000, "ms") if key.endswith("_s") else (1, "ms")
        print(
            f"{key.removesuffix('_s').removesuffix('_ms') + f' ({unit})':32} "
            f"{min(values) * scale:9.1f} {statistics.median(values) * scale:9.1f} "
            f"{max(values) * scale:9.1f}"
        )
    args.raw.parent.mkdir(parents=True, exist_ok=True)
    args.raw.write_text(
        json.dumps(
            {"server": str(MODELYARD.command(Path("."), 0)[0]), "existing": args.existing,
             "bytecode": not args.no_bytecode,
             "load_before": load_before, "load_after": load_after, "rows": rows}, indent=1)
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
