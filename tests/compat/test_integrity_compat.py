"""The stock mlflow client with hashes and frozen versions on: listings with the extra
`sha256` field parse, downloads work, and overwriting a registered version's file
fails with the server's explanation instead of silently replacing it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import ServerProcess


def test_stock_client_lists_downloads_and_is_refused_overwriting_a_frozen_file(
    mlflow_at: Any, live_server: ServerProcess, tmp_path: Path
) -> None:
    mlflow = mlflow_at
    from mlflow.tracking import MlflowClient

    model = tmp_path / "output_model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00\x01" * 50_000)
    (model / "MLmodel").write_text("flavors: {}\n")
    name = f"frozen-{uuid.uuid4().hex[:8]}"
    mlflow.set_experiment(name)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model), "model")
    mlflow.register_model(f"runs:/{run.info.run_id}/model", name)

    client = MlflowClient()
    listed = client.list_artifacts(run.info.run_id, "model")
    assert [(f.path, f.file_size) for f in listed] == [
        ("model/MLmodel", 12),
        ("model/weights.bin", 100_000),
    ]
    got = mlflow.artifacts.download_artifacts(f"models:/{name}/1", dst_path=str(tmp_path / "dl"))
    assert (Path(got) / "weights.bin").read_bytes() == (model / "weights.bin").read_bytes()

    (model / "weights.bin").write_bytes(b"new weights")
    with pytest.raises(Exception, match="immutable"):
        client.log_artifact(run.info.run_id, str(model / "weights.bin"), "model")
    with httpx.Client(base_url=live_server.url) as http:
        answer = http.post(
            "/api/modelyard/v1/model-versions/verify", json={"name": name, "version": "1"}
        ).json()
    assert answer["verification"]["ok"] is True
