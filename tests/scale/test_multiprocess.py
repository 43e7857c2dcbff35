"""Three `modelyard server` processes on one PostgreSQL and one S3 bucket behave as one server.

Every guarantee here comes from PostgreSQL transactions (version numbers, the
one-holder-per-stage rule, migrations under an advisory lock) and from S3's
object semantics; the processes share no memory. The tests spread concurrent
clients over the processes and check the outcome through *other* processes.

The cluster starts on an empty database while the test holds the migrations'
advisory lock: all three processes are seen waiting for it, and once it is
released the schema is applied exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from servers import ServerProcess, free_port, throwaway_postgres, wait_healthy

from modelyard.store.sql import migrations

if TYPE_CHECKING:
    from s3servers import S3Target

API = "/api/2.0/mlflow"
ART = "/api/2.0/mlflow-artifacts/artifacts"
PROCESSES = 3


def _server_args(port: int, backend: str, destination: str, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "modelyard.cli",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        destination,
        *extra,
    ]


@contextmanager
def launched(
    count: int,
    backend: str,
    destination: str,
    env: dict[str, str],
    data_dir: Path,
    extra: list[str] | None = None,
    before_ready: Callable[[], None] | None = None,
) -> Iterator[list[ServerProcess]]:
    """Start `count` servers at once (no waiting between them), then wait for all."""
    servers: list[ServerProcess] = []
    try:
        for i in range(count):
            port = free_port()
            where = data_dir / f"server-{i}"
            where.mkdir(parents=True)
            log_path = where / "server.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    _server_args(port, backend, destination, extra or []),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=where,
                    env={**os.environ, **env},
                    start_new_session=True,
                )
            servers.append(ServerProcess(f"http://127.0.0.1:{port}", proc, where, log_path))
        if before_ready is not None:
            before_ready()
        for server in servers:
            wait_healthy(server.url, server.proc, server.log_path, timeout=60)
        yield servers
    finally:
        for server in servers:
            server.proc.terminate()
        for server in servers:
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()


def _pg(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _waiting_for_lock(url: str) -> int:
    with _pg(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
        ).fetchone()
        return int(row[0])


def _await(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling a condition, not assuming a duration


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def cluster(
    database: str, s3_target: S3Target, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    """Three processes, started at once on an empty database, sharing one S3 prefix."""
    holder = _pg(database)
    # Hold the migrations' lock so that all three must queue behind it.
    holder.execute("SELECT pg_advisory_lock(%s)", (migrations._PG_LOCK_KEY,))

    def all_waiting() -> None:
        _await(lambda: _waiting_for_lock(database) == PROCESSES, "3 processes at the lock")
        holder.execute("SELECT pg_advisory_unlock(%s)", (migrations._PG_LOCK_KEY,))

    try:
        with launched(
            PROCESSES,
            database,
            s3_target.uri(s3_target.new_prefix()),
            s3_target.env(),
            tmp_path_factory.mktemp("cluster"),
            before_ready=all_waiting,
        ) as servers:
            yield servers
    finally:
        holder.close()


@pytest.fixture
def clients(cluster: list[ServerProcess]) -> Iterator[list[httpx.Client]]:
    opened = [httpx.Client(base_url=s.url, timeout=60) for s in cluster]
    try:
        yield opened
    finally:
        for c in opened:
            c.close()


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    answer = client.request(method, f"{API}/{path}", **kwargs)
    assert answer.status_code == 200, f"{method} {path}: {answer.status_code} {answer.text}"
    body: dict[str, Any] = answer.json()
    return body


def new_model(client: httpx.Client) -> tuple[str, dict[str, str]]:
    """A registered model and the body of a version request for it (a run's model)."""
    name = f"m-{os.urandom(4).hex()}"
    call(client, "POST", "registered-models/create", json={"name": name})
    run = call(client, "POST", "runs/create", json={"experiment_id": "0"})["run"]
    run_id = run["info"]["run_id"]
    return name, {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}


def spread(clients: list[httpx.Client], jobs: list[Callable[[httpx.Client], Any]]) -> list[Any]:
    """Run jobs concurrently, job i through process i mod 3."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(job, clients[i % len(clients)]) for i, job in enumerate(jobs)]
        return [f.result() for f in futures]


# -- migrations -------------------------------------------------------------------------------
def test_three_processes_started_at_once_migrate_once(
    cluster: list[ServerProcess], database: str
) -> None:
    with _pg(database) as conn:
        rows = conn.execute(
            "SELECT name, count(*) FROM schema_migrations GROUP BY name ORDER BY name"
        ).fetchall()
    assert rows == [(m.name, 1) for m in sorted(migrations.MIGRATIONS, key=lambda m: m.name)]
    for server in cluster:
        assert server.proc.poll() is None
        assert "Traceback" not in server.log()


def test_concurrent_db_upgrade_commands_one_applies_the_others_wait(tmp_path: Path) -> None:
    with throwaway_postgres() as url, _pg(url) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrations._PG_LOCK_KEY,))
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "modelyard.cli",
                    "db",
                    "upgrade",
                    "--backend-store-uri",
                    url,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        _await(lambda: _waiting_for_lock(url) == PROCESSES, "3 upgrades at the lock")
        holder.execute("SELECT pg_advisory_unlock(%s)", (migrations._PG_LOCK_KEY,))
        outputs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
        assert [p.returncode for p in procs] == [0] * PROCESSES
    assert outputs[0].startswith("applied: 0001_tracking"), outputs
    assert outputs[1:] == ["schema is up to date"] * (PROCESSES - 1)


# -- registry ---------------------------------------------------------------------------------
def test_versions_created_through_three_processes_never_collide(
    clients: list[httpx.Client],
) -> None:
    name, version_body = new_model(clients[0])

    def create_versions(client: httpx.Client) -> list[int]:
        return [
            int(
                call(client, "POST", "model-versions/create", json=version_body)["model_version"][
                    "version"
                ]
            )
            for _ in range(8)
        ]

    created = spread(clients, [create_versions] * 6)
    numbers = sorted(n for batch in created for n in batch)
    assert numbers == list(range(1, 49))
    for client in clients:  # every process sees all 48
        found = call(
            client,
            "GET",
            "model-versions/search",
            params={"filter": f"name='{name}'", "max_results": 1000},
        )
        assert len(found["model_versions"]) == 48
    latest = call(clients[2], "GET", "registered-models/get", params={"name": name})
    assert max(int(v["version"]) for v in latest["registered_model"]["latest_versions"]) == 48


@pytest.mark.parametrize("stage", ["Production", "Staging"])
def test_one_holder_per_stage_under_concurrent_transitions(
    clients: list[httpx.Client], stage: str
) -> None:
    name, version_body = new_model(clients[0])
    versions = 9
    for i in range(versions):
        call(clients[i % 3], "POST", "model-versions/create", json=version_body)

    def promote(version: int) -> Callable[[httpx.Client], Any]:
        return lambda client: call(
            client,
            "POST",
            "model-versions/transition-stage",
            json={"name": name, "version": str(version), "stage": stage},
        )

    spread(clients, [promote(v) for v in range(1, versions + 1)])
    for client in clients:
        found = call(client, "GET", "model-versions/search", params={"filter": f"name='{name}'"})[
            "model_versions"
        ]
        stages = sorted(v["current_stage"] for v in found)
        assert stages == sorted([stage] + ["Archived"] * (versions - 1)), stages
    # The history is complete: every request, and every version it displaced.
    events = (
        clients[1]
        .get(
            "/api/modelyard/v1/registered-models/history",
            params={"name": name, "max_results": 1000},
        )
        .json()["events"]
    )
    transitions = [e for e in events if e["action"] == "transition"]
    requested = [e for e in transitions if e.get("cause") == "request"]
    displaced = [e for e in transitions if e.get("cause") == "displaced"]
    assert len(requested) == versions and len(displaced) == versions - 1
    holder = (
        clients[2]
        .get(
            "/api/modelyard/v1/registered-models/stage-holder",
            params={"name": name, "stage": stage},
        )
        .json()
    )
    assert [v["version"] for v in found if v["current_stage"] == stage] == [holder["version"]]


# -- tracking and artifacts -----------------------------------------------------------------------
def test_runs_and_metrics_logged_through_different_processes_all_appear(
    clients: list[httpx.Client],
) -> None:
    exp = call(clients[0], "POST", "experiments/create", json={"name": f"e-{os.urandom(4).hex()}"})
    exp_id = exp["experiment_id"]

    def train(client: httpx.Client) -> str:
        run = call(client, "POST", "runs/create", json={"experiment_id": exp_id})["run"]
        run_id = run["info"]["run_id"]
        for batch in range(5):
            metrics = [
                {"key": "loss", "value": 1 / (s + 1), "timestamp": 1000 + s, "step": s}
                for s in range(batch * 100, batch * 100 + 100)
            ]
            call(client, "POST", "runs/log-batch", json={"run_id": run_id, "metrics": metrics})
        call(
            client,
            "POST",
            "runs/log-batch",
            json={"run_id": run_id, "params": [{"key": "lr", "value": "0.1"}]},
        )
        call(client, "POST", "runs/update", json={"run_id": run_id, "status": "FINISHED"})
        return run_id

    run_ids = spread(clients, [train] * 9)
    for client in clients:
        found = call(
            client,
            "POST",
            "runs/search",
            json={"experiment_ids": [exp_id], "filter": "params.lr = '0.1'", "max_results": 100},
        )["runs"]
        assert sorted(r["info"]["run_id"] for r in found) == sorted(run_ids)
    for i, run_id in enumerate(run_ids):
        history = call(
            clients[(i + 1) % 3],
            "GET",
            "metrics/get-history",
            params={"run_id": run_id, "metric_key": "loss", "max_results": 25000},
        )["metrics"]
        assert sorted(m["step"] for m in history) == list(range(500))


def test_artifacts_written_through_one_process_are_read_through_the_others(
    clients: list[httpx.Client],
) -> None:
    base = f"shared-{os.urandom(4).hex()}"
    blobs = {f"{base}/f{i}.bin": os.urandom(100_000 + i) for i in range(6)}

    def upload(path: str, data: bytes) -> Callable[[httpx.Client], None]:
        def job(client: httpx.Client) -> None:
            assert client.put(f"{ART}/{path}", content=data).status_code == 200

        return job

    spread(clients, [upload(p, d) for p, d in blobs.items()])
    for i, (path, data) in enumerate(blobs.items()):
        assert clients[(i + 2) % 3].get(f"{ART}/{path}").content == data
    listing = clients[1].get(ART, params={"path": base}).json()["files"]
    assert len(listing) == 6


# -- one command, several workers ------------------------------------------------------------------
def _spawned_workers(parent: int) -> list[int]:
    """Child processes started by multiprocessing's spawn (uvicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_workers_option_serves_from_several_processes_on_one_port(
    s3_target: S3Target, tmp_path: Path
) -> None:
    with (
        throwaway_postgres() as url,
        launched(
            1,
            url,
            s3_target.uri(s3_target.new_prefix()),
            s3_target.env(),
            tmp_path,
            extra=["--workers", "2"],
        ) as (server,),
    ):
        assert len(_spawned_workers(server.proc.pid)) == 2
        with httpx.Client(base_url=server.url, timeout=60) as client:
            _, version_body = new_model(client)

            def create(c: httpx.Client) -> int:
                answer = call(c, "POST", "model-versions/create", json=version_body)
                return int(answer["model_version"]["version"])

            with ThreadPoolExecutor(8) as pool:
                numbers = sorted(pool.map(lambda _: create(client), range(24)))
            assert numbers == list(range(1, 25))
            assert client.put(f"{ART}/w/a.txt", content=b"a").status_code == 200
            assert client.get(f"{ART}/w/a.txt").content == b"a"
