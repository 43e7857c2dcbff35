"""CPU time per charts request, in-process: a load-independent figure for issue 14.

    python bench/bench_charts_cpu.py [--runs 1000] [--metrics 20] [--steps 50] [--requests 20]

Wall-clock latency on a shared, loaded machine says more about the neighbours
than about the code, so this measures `time.process_time()` (CPU seconds of
this process, all threads) around each request made through Starlette's test
client against a freshly filled SQLite database (the same fixture as
`bench_ui.py`'s charts rows). Reported: p50/p95 CPU milliseconds and bytes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_ui import _settings, fill_charts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args(argv)

    from starlette.testclient import TestClient

    from modelyard.app import build_services, create_app
    from modelyard.store.sql import migrations

    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp))
        services = build_services(settings)  # type: ignore[arg-type]
        migrations.upgrade(services.db)
        services.tracking.ensure_default_experiment()
        exp = fill_charts(services, args.runs, args.metrics, args.steps, print)
        app = create_app(settings)  # type: ignore[arg-type]
        panel = f"/ui/experiments/{exp}/chart-panel?size={args.runs}"
        paths = [
            ("charts page", f"/experiments/{exp}/charts?size={args.runs}"),
            ("panel, step", f"{panel}&key=m00"),
            ("panel, relative time", f"{panel}&key=m00&x=relative"),
            ("panel, bars", f"{panel}&key=m{args.metrics - 1:02d}"),
            ("plots page", f"/experiments/{exp}/plots?size={args.runs}"),
        ]
        with TestClient(app) as client:
            for label, path in paths:
                for _ in range(2):
                    client.get(path).raise_for_status()
                cpu: list[float] = []
                size = 0
                for _ in range(args.requests):
                    t0 = time.process_time()
                    r = client.get(path)
                    cpu.append((time.process_time() - t0) * 1000)
                    r.raise_for_status()
                    size = len(r.content)
                cpu.sort()
                p95 = cpu[min(len(cpu) - 1, round(0.95 * (len(cpu) - 1)))]
                print(
                    f"{label:24s} cpu p50 {statistics.median(cpu):7.1f} ms  "
                    f"p95 {p95:7.1f} ms  {size:>9,} bytes"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
