"""SIGKILL while several clients promote versions concurrently, then restart:
Staging and Production each have at most one holder, and the promotion
history accounts for every version's current stage."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import modelyard_server, throwaway_postgres

API = "/api/2.0/mlflow"
MY = "/api/modelyard/v1/registered-models"
NAME = "kill-promotions"
VERSIONS = 6


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
    else:
        with throwaway_postgres() as url:
            yield url


class Promoter(threading.Thread):
    def __init__(self, url: str, seed: int) -> None:
        super().__init__()
        self.url, self.rng = url, random.Random(seed)
        self.acked = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while True:
                body = {
                    "name": NAME,
                    "version": str(self.rng.randint(1, VERSIONS)),
                    "stage": self.rng.choice(["Staging", "Production", "Archived", "None"]),
                }
                try:
                    r = client.post(f"{API}/model-versions/transition-stage", json=body)
                except httpx.TransportError:
                    return
                assert r.status_code == 200, r.text
                self.acked += 1


def _stages(url: str) -> dict[str, str]:
    out = httpx.get(
        f"{url}{API}/model-versions/search", params={"filter": f"name = '{NAME}'"}
    ).json()
    return {mv["version"]: mv["current_stage"] for mv in out["model_versions"]}


def _history(url: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = None
    while True:
        params = {"name": NAME, "max_results": 1000, **({"page_token": token} if token else {})}
        page = httpx.get(f"{url}{MY}/history", params=params).json()
        events += page["events"]
        token = page.get("next_page_token")
        if not token:
            return events


def test_sigkill_during_concurrent_promotions(tmp_path: Path, backend: str) -> None:
    data = tmp_path / "data"
    with modelyard_server(data, backend) as server:
        httpx.post(f"{server.url}{API}/registered-models/create", json={"name": NAME})
        run_id = httpx.post(f"{server.url}{API}/runs/create", json={"experiment_id": "0"}).json()[
            "run"
        ]["info"]["run_id"]
        for _ in range(VERSIONS):
            r = httpx.post(
                f"{server.url}{API}/model-versions/create",
                json={"name": NAME, "source": f"runs:/{run_id}/model", "run_id": run_id},
            )
            assert r.status_code == 200, r.text
        promoters = [Promoter(server.url, seed) for seed in range(4)]
        for p in promoters:
            p.start()
        deadline = time.monotonic() + 60
        while sum(p.acked for p in promoters) < 80 and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for load to build up; the deadline bounds it
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        for p in promoters:
            p.join(timeout=60)
    acked = sum(p.acked for p in promoters)
    assert acked >= 80

    with modelyard_server(data, backend) as again:
        stages = _stages(again.url)
        events = _history(again.url)
    assert len(stages) == VERSIONS
    for stage in ("Staging", "Production"):
        assert sum(1 for s in stages.values() if s == stage) <= 1, stages
    # Every acknowledged promotion is in the history (a displaced version's archiving too).
    transitions = [e for e in events if e["action"] == "transition"]
    assert len([e for e in transitions if e.get("cause") != "displaced"]) >= acked
    # The newest transition of each version names the stage it holds now.
    for version, stage in stages.items():
        mine = [e for e in transitions if e["version"] == version]
        latest = mine[0]["to_stage"] if mine else "None"  # newest first
        assert latest == stage, (version, stage, mine[:3])
