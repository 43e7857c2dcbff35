"""SIGKILL while several clients log batches, then restart: every acknowledged
batch is there in full, and an unacknowledged one is all there or not at all."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import modelyard_server, throwaway_postgres

CLIENTS = 3
KEYS = ("loss", "acc", "lr")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
    else:
        with throwaway_postgres() as url:
            yield url


class Ingest(threading.Thread):
    """One client logging batches (three metrics at one step) to its own run."""

    def __init__(self, url: str, run_id: str) -> None:
        super().__init__()
        self.url, self.run_id = url, run_id
        self.acked: list[int] = []
        self.sent: list[int] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            for step in range(100_000):
                batch = [
                    {"key": k, "value": step + i / 10, "timestamp": 1, "step": step}
                    for i, k in enumerate(KEYS)
                ]
                self.sent.append(step)
                try:
                    r = client.post(
                        "/api/2.0/mlflow/runs/log-batch",
                        json={"run_id": self.run_id, "metrics": batch},
                    )
                except httpx.TransportError:
                    return  # the server died under us
                assert r.status_code == 200, r.text
                self.acked.append(step)


def _history(url: str, run_id: str, key: str) -> set[int]:
    r = httpx.get(
        f"{url}/api/2.0/mlflow/metrics/get-history",
        params={"run_id": run_id, "metric_key": key, "max_results": 100000},
        timeout=30,
    )
    return {int(m["step"]) for m in r.json().get("metrics", [])}


def test_sigkill_during_log_batch_keeps_every_acknowledged_write(
    tmp_path: Path, backend: str
) -> None:
    data = tmp_path / "data"
    with modelyard_server(data, backend) as server:
        runs = [
            httpx.post(
                f"{server.url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}
            ).json()["run"]["info"]["run_id"]
            for _ in range(CLIENTS)
        ]
        clients = [Ingest(server.url, run_id) for run_id in runs]
        for c in clients:
            c.start()
        deadline = time.monotonic() + 60
        while sum(len(c.acked) for c in clients) < 150 and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for load to build up; the deadline bounds it
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        for c in clients:
            c.join(timeout=60)
    assert all(c.acked for c in clients), "every client had batches acknowledged"

    with modelyard_server(data, backend) as again:
        for c in clients:
            found = {key: _history(again.url, c.run_id, key) for key in KEYS}
            # Every acknowledged batch survived, in full.
            for key in KEYS:
                assert set(c.acked) <= found[key], key
            # A batch in flight at the kill is all there or not at all.
            assert found["loss"] == found["acc"] == found["lr"]
            assert found["loss"] <= set(c.sent)
