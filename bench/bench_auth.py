"""What authentication costs per request: log-metric p50 with auth off and on, side by side.

Starts two `modelyard server` processes on SQLite (one plain, one `--auth`),
then times sequential `runs/log-metric` calls over one keep-alive connection
each, alternating rounds between the servers so a change in machine load
hits both alike. With auth on the calls carry HTTP Basic credentials (a
verified credential is cached, so argon2 runs once) and, in a third column,
a Bearer access token.

    .venv/bin/python bench/bench_auth.py [--calls 3000] [--rounds 10]

Prints one markdown table row; quote the load average with it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ADMIN = ("bench-admin", "bench-password-1")
# A plain user (not an admin, who would skip the permission check): it creates the
# experiment it logs to, so it holds MANAGE there through a grant like anyone else.
USER = ("bench-user", "bench-password-2")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(data: Path, auth: bool) -> Iterator[str]:
    port = _free_port()
    args = [
        sys.executable, "-m", "modelyard.cli", "server", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{data / 'db.sqlite'}",
        "--artifacts-destination", str(data / "artifacts"), "--log-level", "warning",
    ]  # fmt: skip
    env = dict(os.environ)
    if auth:
        args.append("--auth")
        env["MODELYARD_ADMIN_USERNAME"], env["MODELYARD_ADMIN_PASSWORD"] = ADMIN
    data.mkdir(parents=True, exist_ok=True)
    with open(data / "server.log", "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError((data / "server.log").read_text())
            time.sleep(0.05)  # readiness poll
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _client(url: str, headers: dict[str, str], auth: tuple[str, str] | None) -> httpx.Client:
    return httpx.Client(base_url=url, headers=headers, auth=auth, timeout=30)


def _run_id(client: httpx.Client, name: str) -> str:
    made = client.post("/api/2.0/mlflow/experiments/create", json={"name": f"bench-{name}"})
    made.raise_for_status()
    exp_id = made.json()["experiment_id"]
    resp = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": exp_id})
    resp.raise_for_status()
    return str(resp.json()["run"]["info"]["run_id"])


def _round(client: httpx.Client, run_id: str, calls: int, start: int) -> list[float]:
    out: list[float] = []
    for i in range(start, start + calls):
        body = {"run_id": run_id, "key": "loss", "value": i * 0.5, "timestamp": i, "step": i}
        t0 = time.perf_counter()
        resp = client.post("/api/2.0/mlflow/runs/log-metric", json=body)
        out.append((time.perf_counter() - t0) * 1000)
        if resp.status_code != 200:
            raise RuntimeError(resp.text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="log-metric calls per column")
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp,
        server(Path(tmp, "off"), False) as off_url,
        server(Path(tmp, "on"), True) as on_url,
    ):
        off = _client(off_url, {}, None)
        with _client(on_url, {}, ADMIN) as admin:
            admin.post(
                "/api/2.0/mlflow/users/create",
                json={"username": USER[0], "password": USER[1]},
            ).raise_for_status()
        basic = _client(on_url, {}, USER)
        made = basic.post("/api/modelyard/v1/tokens/create", json={"name": "bench"})
        made.raise_for_status()
        bearer = _client(on_url, {"Authorization": f"Bearer {made.json()['secret']}"}, None)
        columns = {"off": off, "basic": basic, "bearer": bearer}
        runs = {name: _run_id(c, name) for name, c in columns.items()}
        times: dict[str, list[float]] = {name: [] for name in columns}
        per_round = max(1, args.calls // args.rounds)
        for name, c in columns.items():  # warm-up: connections, caches, argon2 once
            _round(c, runs[name], 50, 10_000_000)
        for r in range(args.rounds):
            for name, c in columns.items():
                times[name] += _round(c, runs[name], per_round, r * per_round)
        for c in columns.values():
            c.close()
    p50 = {name: statistics.median(t) for name, t in times.items()}
    load = Path("/proc/loadavg").read_text().split()[0]
    print(
        "| workload | auth off p50 | auth on, Basic p50 | auth on, Bearer p50 "
        "| cost (Basic) | load |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| log-metric, {len(times['off'])} sequential calls | {p50['off']:.3f} ms "
        f"| {p50['basic']:.3f} ms | {p50['bearer']:.3f} ms "
        f"| {p50['basic'] - p50['off']:+.3f} ms | {load} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
