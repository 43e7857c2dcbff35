"""CPU per point of log-batch through the whole ASGI stack, in-process.

Builds the real app (`create_app`: AccessLog → Door → BodyTimeout → router →
handler in the thread pool → service → store) on a fresh SQLite or PostgreSQL
database and drives it with `clients` concurrent requests from one asyncio
loop, no sockets: what is left out is uvicorn's HTTP parsing, which
`bench_ingest.py` covers by reading the server process's CPU time. The figure
is CPU seconds (`time.process_time`, all threads of this process) per 1,000
points, which does not count waiting for a core, so it stays meaningful on a
loaded machine. `--profile FILE` writes a cProfile of the loop thread and
`--callers` prints the top functions by cumulative time.

    .venv/bin/python bench/profile_ingest.py --backend sqlite --clients 8 --batch 100
    .venv/bin/python bench/profile_ingest.py --backend postgresql --clients 8 --batch 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from modelyard.app import create_app
from modelyard.settings import Settings

PG_ADMIN_URL = os.environ.get("MODELYARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/m.db"
        return
    import psycopg

    name = f"modelyard_prof_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def call(app: Any, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 5000),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def batch_body(run_id: str, start: int, batch: int, keys: int) -> bytes:
    """`batch` points over `keys` keys (bench_server's log-batch: 10 keys x 100 steps)."""
    per_key = max(1, batch // keys)
    first = start // keys
    return orjson.dumps(
        {
            "run_id": run_id,
            "metrics": [
                {
                    "key": f"m{k}" if keys > 1 else "m",
                    "value": (s * 0.7071067811865476) % 1,
                    "timestamp": 1_700_000_000_000 + s,
                    "step": s,
                }
                for k in range(keys)
                for s in range(first, first + per_key)
            ],
        }
    )


async def drive(
    app: Any, clients: int, batch: int, requests: int, keys: int = 1
) -> tuple[float, float, int]:
    """`requests` log-batches per client; returns (cpu s, wall s, points)."""
    api = "/api/2.0/mlflow"
    _, out = await call(app, "POST", f"{api}/experiments/create",
                        orjson.dumps({"name": uuid.uuid4().hex}))  # fmt: skip
    exp = orjson.loads(out)["experiment_id"]
    runs = []
    for _ in range(clients):
        _, out = await call(app, "POST", f"{api}/runs/create",
                            orjson.dumps({"experiment_id": exp}))  # fmt: skip
        runs.append(orjson.loads(out)["run"]["info"]["run_id"])
    bodies = {r: [batch_body(r, i * batch, batch, keys) for i in range(requests + 2)] for r in runs}

    async def client(run_id: str, first: int, count: int) -> None:
        for i in range(first, first + count):
            status, out = await call(app, "POST", f"{api}/runs/log-batch", bodies[run_id][i])
            if status != 200:
                raise RuntimeError(f"{status} {out[:200]!r}")

    await asyncio.gather(*(client(r, 0, 2) for r in runs))  # warm-up
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(r, 2, requests) for r in runs))
    return time.process_time() - cpu, time.perf_counter() - wall, clients * requests * batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--keys", type=int, default=1, help="distinct metric keys per batch")
    parser.add_argument(
        "--requests", type=int, default=0, help="per client (default: ~200k points)"
    )
    parser.add_argument(
        "--profile", default=None, help="write a cProfile here (handlers run inline)"
    )
    parser.add_argument("--top", type=int, default=0, help="print the top N by cumulative time")
    args = parser.parse_args(argv)
    requests = args.requests or max(2, 200_000 // (args.clients * args.batch))
    with database(args.backend) as uri, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(backend_store_uri=uri, artifacts_destination=tmp, log_level="warning")
        app = create_app(settings)
        profiler = cProfile.Profile() if args.profile or args.top else None
        if profiler is not None:
            # cProfile sees one thread: run handlers inline on the loop's thread.
            import modelyard.http.endpoint as endpoint

            async def inline(fn: Any, *a: Any) -> Any:
                return fn(*a)

            endpoint.run_in_threadpool = inline  # type: ignore[assignment]
            profiler.enable()
        cpu, wall, points = asyncio.run(drive(app, args.clients, args.batch, requests, args.keys))
        if profiler is not None:
            profiler.disable()
        load = os.getloadavg()[0]
        print(
            f"{args.backend} clients={args.clients} batch={args.batch}: {points:,} points, "
            f"CPU {cpu * 1e6 / points * 1000 / 1000:.2f} ms per 1,000 points "
            f"({points / cpu:,.0f} points per CPU-second), wall {points / wall:,.0f} points/s, "
            f"load {load:.1f}"
        )
        if profiler is not None:
            if args.profile:
                profiler.dump_stats(args.profile)
            if args.top:
                pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
