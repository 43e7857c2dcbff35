"""MLflow's second artifact mode: --no-serve-artifacts with a default artifact
root the clients write to directly, driven by the stock client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow.tracking import MlflowClient
from servers import ServerProcess, modelyard_server


@pytest.fixture(scope="module")
def direct_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    data = tmp_path_factory.mktemp("direct")
    root = data / "shared-mlruns"
    args = ["--no-serve-artifacts", "--default-artifact-root", root.as_uri()]
    with modelyard_server(data, extra_args=args) as server:
        yield server, root


def test_clients_write_to_the_default_root_directly(
    direct_server: tuple[ServerProcess, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    server, root = direct_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    client = MlflowClient()
    exp_id = client.create_experiment("direct")
    assert client.get_experiment(exp_id).artifact_location == f"{root.as_uri()}/{exp_id}"
    src = tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "w.bin").write_bytes(b"\x00\x01" * 5000)
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_artifacts(str(src))
    on_disk = root / exp_id / run.info.run_id / "artifacts" / "sub" / "w.bin"
    assert on_disk.read_bytes() == b"\x00\x01" * 5000
    # the server lists what the client wrote, through the tracking API
    listed = [f.path for f in client.list_artifacts(run.info.run_id, "sub")]
    assert listed == ["sub/w.bin"]
    dst = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path / "dl"))
    assert (Path(dst) / "sub" / "w.bin").read_bytes() == on_disk.read_bytes()
    # and its proxy routes are off, answered as MLflow answers them
    off = httpx.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": exp_id})
    assert off.status_code == 503


def test_relative_artifact_location_is_made_absolute(
    direct_server: tuple[ServerProcess, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = direct_server
    client = MlflowClient(server.url)
    exp_id = client.create_experiment("relative", artifact_location="rel/place")
    # MLflow resolves it against the server's working directory.
    assert client.get_experiment(exp_id).artifact_location == str(server.data_dir / "rel" / "place")


def test_artifact_location_may_not_be_a_runs_uri(direct_server: tuple[ServerProcess, Any]) -> None:
    server, _ = direct_server
    resp = httpx.post(
        f"{server.url}/api/2.0/mlflow/experiments/create",
        json={"name": "bad-loc", "artifact_location": "runs:/abc/model"},
    )
    assert resp.status_code == 400
    assert "runs:/" in resp.json()["message"]
