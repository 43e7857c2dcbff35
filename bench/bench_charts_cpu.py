"""CPU time per charts request, in-process: a load-independent figure for issue 14.

    python bench/bench_charts_cpu.py [--backend sqlite|postgresql] [--runs 1000]
                                     [--metrics 20] [--steps 50] [--requests 20]

Wall-clock latency on a shared, loaded machine says more about the neighbours
than about the code, so this measures CPU time around each request made through
Starlette's test client against a freshly filled database (the same fixture as
`bench_ui.py`'s charts rows):

* `app cpu`: `time.process_time()` of this process (all its threads: the
  handler, the test client and, on SQLite, the database engine itself);
* `db cpu` (PostgreSQL only): the CPU time the PostgreSQL backends serving this
  process used during the request, read from `/proc/<pid>/schedstat` (ns) of
  every backend connected to the bench's throwaway database, so the server
  time the page costs is `app + db`. PostgreSQL must run on this machine.

Reported per request kind: p50/p95 of app CPU, of app + db CPU, the wall-clock
p50 (with the load average beside it: it is only meaningful on a quiet machine)
and the response size.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_ui import _settings, fill_charts


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@contextlib.contextmanager
def _database(backend: str, tmp: Path) -> Iterator[str | None]:
    """The PostgreSQL URL of a throwaway database (dropped afterwards), or None for SQLite."""
    if backend == "sqlite":
        yield None
        return
    from servers import throwaway_postgres

    with throwaway_postgres() as url:
        yield url


def _backend_cpu_ns(url: str) -> Callable[[], int]:
    """A function summing the on-CPU ns of every PostgreSQL backend on `url`'s database."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True)

    def total() -> int:
        pids = [
            pid
            for (pid,) in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [name]
            ).fetchall()
        ]
        ns = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                ns += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        return ns

    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args(argv)

    from starlette.testclient import TestClient

    from modelyard.app import build_services, create_app, freeze_startup_heap
    from modelyard.settings import Settings
    from modelyard.store.sql import migrations

    with tempfile.TemporaryDirectory() as tmp, _database(args.backend, Path(tmp)) as pg_url:
        settings: Settings = _settings(Path(tmp))  # type: ignore[assignment]
        if pg_url is not None:
            settings = Settings(
                backend_store_uri=pg_url, artifacts_destination=str(Path(tmp) / "artifacts")
            )
        services = build_services(settings)
        migrations.upgrade(services.db)
        services.tracking.ensure_default_experiment()
        exp = fill_charts(services, args.runs, args.metrics, args.steps, print)
        services.db.close()
        if pg_url is not None:
            import psycopg

            # What autovacuum does to a live server's tables soon after a bulk load:
            # statistics, and the visibility map that lets index-only scans skip
            # the table.
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        db_cpu = _backend_cpu_ns(pg_url) if pg_url is not None else (lambda: 0)
        app = create_app(settings)
        freeze_startup_heap()  # as the server's app factory does
        panel = f"/ui/experiments/{exp}/chart-panel?size={args.runs}"
        paths = [
            ("charts page", f"/experiments/{exp}/charts?size={args.runs}"),
            ("panel, step", f"{panel}&key=m00"),
            ("panel, relative time", f"{panel}&key=m00&x=relative"),
            ("panel, bars", f"{panel}&key=m{args.metrics - 1:02d}"),
            ("plots page", f"/experiments/{exp}/plots?size={args.runs}"),
        ]
        load = os.getloadavg()
        print(
            f"{args.backend}, {args.requests} requests each after 2 warm-ups; "
            f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on {os.cpu_count()} CPUs"
        )
        head = "app cpu p50/p95 ms"
        if pg_url is not None:
            head += "   app+db cpu p50/p95 ms"
        print(f"{'':24s} {head}   wall p50 ms      bytes")
        with TestClient(app) as client:
            for label, path in paths:
                for _ in range(2):
                    client.get(path).raise_for_status()
                cpu: list[float] = []
                total: list[float] = []
                wall: list[float] = []
                size = 0
                for _ in range(args.requests):
                    d0 = db_cpu()
                    w0 = time.perf_counter()
                    t0 = time.process_time()
                    r = client.get(path)
                    app_ms = (time.process_time() - t0) * 1000
                    wall.append((time.perf_counter() - w0) * 1000)
                    cpu.append(app_ms)
                    total.append(app_ms + (db_cpu() - d0) / 1e6)
                    r.raise_for_status()
                    size = len(r.content)
                line = f"{label:24s} {statistics.median(cpu):7.1f} / {p95(cpu):7.1f}   "
                if pg_url is not None:
                    line += f"      {statistics.median(total):7.1f} / {p95(total):7.1f}   "
                print(f"{line}  {statistics.median(wall):8.1f}  {size:>9,}")
        print(f"load average after: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
