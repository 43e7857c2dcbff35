"""Many clients logging at once through a real server, on each backend: every
acknowledged point is stored (SQLite's group commit shares transactions among
them, PostgreSQL writes each batch in one round trip), and a client logging to a
missing or deleted run gets MLflow's error without disturbing the others."""

from __future__ import annotations

import threading

import httpx
from servers import ServerProcess

API = "/api/2.0/mlflow"
CLIENTS = 12
BATCHES = 8
POINTS = 50


def _create_run(client: httpx.Client, experiment_id: str) -> str:
    answer = client.post(f"{API}/runs/create", json={"experiment_id": experiment_id})
    answer.raise_for_status()
    return str(answer.json()["run"]["info"]["run_id"])


def _history_steps(client: httpx.Client, run_id: str, key: str) -> list[int]:
    answer = client.get(
        f"{API}/metrics/get-history",
        params={"run_id": run_id, "metric_key": key, "max_results": 25_000},
    )
    answer.raise_for_status()
    return sorted(int(m["step"]) for m in answer.json().get("metrics", []))


def test_concurrent_log_batches_are_all_stored_and_errors_stay_with_their_request(
    live_server: ServerProcess,
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=60) as admin:
        exp = admin.post(f"{API}/experiments/create", json={"name": "concurrent-ingest"})
        exp.raise_for_status()
        experiment_id = exp.json()["experiment_id"]
        runs = [_create_run(admin, experiment_id) for _ in range(CLIENTS)]
        deleted = _create_run(admin, experiment_id)
        admin.post(f"{API}/runs/delete", json={"run_id": deleted}).raise_for_status()

    targets = [*runs, deleted, "0" * 32]
    answers: dict[str, list[tuple[int, str]]] = {run_id: [] for run_id in targets}
    start = threading.Barrier(len(targets))

    def client(run_id: str) -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            start.wait()
            for b in range(BATCHES):
                metrics = [
                    {"key": "m", "value": s / 3, "timestamp": 1_700_000_000_000 + s, "step": s}
                    for s in range(b * POINTS, (b + 1) * POINTS)
                ]
                answer = http.post(
                    f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}
                )
                code = answer.json().get("error_code", "") if answer.status_code != 200 else ""
                answers[run_id].append((answer.status_code, code))

    threads = [threading.Thread(target=client, args=(run_id,)) for run_id in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    for run_id in runs:
        assert answers[run_id] == [(200, "")] * BATCHES
    assert answers[deleted] == [(400, "INVALID_PARAMETER_VALUE")] * BATCHES
    assert answers["0" * 32] == [(404, "RESOURCE_DOES_NOT_EXIST")] * BATCHES
    with httpx.Client(base_url=live_server.url, timeout=60) as admin:
        for run_id in runs:
            assert _history_steps(admin, run_id, "m") == list(range(BATCHES * POINTS))
        assert _history_steps(admin, deleted, "m") == []
        # The latest value per run is the point with the greatest step.
        run = admin.get(f"{API}/runs/get", params={"run_id": runs[0]}).json()["run"]
        latest = run["data"]["metrics"]
        assert [(m["key"], m["step"]) for m in latest] == [("m", BATCHES * POINTS - 1)]
