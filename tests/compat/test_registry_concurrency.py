"""The seed's stage rule under concurrency: two server processes on one PostgreSQL
(and one SQLite file), many clients at once."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from servers import ServerProcess, modelyard_server, throwaway_postgres

API = "/api/2.0/mlflow"


@pytest.fixture(params=["postgresql", "sqlite"])
def two_servers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    if request.param == "postgresql":
        with (
            throwaway_postgres() as url,
            modelyard_server(tmp_path / "a", url) as a,
            modelyard_server(tmp_path / "b", url) as b,
        ):
            yield a, b
    else:
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        with modelyard_server(tmp_path / "a", url) as a, modelyard_server(tmp_path / "b", url) as b:
            yield a, b


def _post(url: str, path: str, body: dict[str, object]) -> dict[str, object]:
    resp = httpx.post(f"{url}{API}/{path}", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_versions_and_exclusive_production_across_processes(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = two_servers
    urls = [a.url, b.url]
    run = _post(a.url, "runs/create", {"experiment_id": "0"})["run"]
    run_id = run["info"]["run_id"]  # type: ignore[index]
    source = f"runs:/{run_id}/model"
    _post(a.url, "registered-models/create", {"name": "m"})

    def create(i: int) -> str:
        body = {"name": "m", "source": source, "run_id": run_id}
        return str(_post(urls[i % 2], "model-versions/create", body)["model_version"]["version"])  # type: ignore[index]

    with ThreadPoolExecutor(8) as pool:
        versions = list(pool.map(create, range(40)))
    assert sorted(int(v) for v in versions) == list(range(1, 41))

    def promote(version: int) -> None:
        _post(
            urls[version % 2],
            "model-versions/transition-stage",
            {
                "name": "m",
                "version": str(version),
                "stage": "Production",
                "archive_existing_versions": False,
            },
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(promote, range(1, 17)))
    found = httpx.get(
        f"{b.url}{API}/model-versions/search", params={"filter": "name='m'", "max_results": 100}
    ).json()["model_versions"]
    stages = {int(v["version"]): v["current_stage"] for v in found}
    production = [v for v, s in stages.items() if s == "Production"]
    assert len(production) == 1
    assert {stages[v] for v in range(1, 17) if v not in production} == {"Archived"}
    assert {stages[v] for v in range(17, 41)} == {"None"}
    events = httpx.get(
        f"{a.url}/api/modelyard/v1/registered-models/history",
        params={"name": "m", "max_results": 1000},
    ).json()["events"]
    transitions = [e for e in events if e["action"] == "transition"]
    requested = [e for e in transitions if e["cause"] == "request"]
    displaced = [e for e in transitions if e["cause"] == "displaced"]
    # every promotion and every archiving it caused is in the history
    assert sorted(int(e["version"]) for e in requested) == list(range(1, 17))
    assert len(displaced) == 15
    assert {e["to_stage"] for e in displaced} == {"Archived"}
    assert {e["from_stage"] for e in displaced} == {"Production"}
