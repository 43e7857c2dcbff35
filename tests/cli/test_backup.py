"""`modelyard backup` while a server runs, `modelyard restore` into a fresh location, and
the stock mlflow client downloading the Production model from the restored server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from servers import modelyard_server


def modelyard(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelyard.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_backup_restore_and_the_stock_client_downloads_production_byte_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "output_model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    (model / "sub" / "config.json").write_text('{"layers": [784, 10]}\n')
    old, new = tmp_path / "old", tmp_path / "new"
    with modelyard_server(old) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        mlflow.set_tracking_uri(server.url)
        mlflow.set_experiment("backed-up")
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(model))
        mv = mlflow.register_model(f"runs:/{run.info.run_id}", "mnist_test")
        MlflowClient().transition_model_version_stage("mnist_test", mv.version, "Production")

        flags = ["--backend-store-uri", f"sqlite:///{old / 'modelyard.db'}"]
        flags += ["--artifacts-destination", str(old / "artifacts")]
        made = modelyard("backup", str(tmp_path / "bk"), *flags)  # the server is running
        assert made.returncode == 0, made.stderr
        assert "and 2 artifact file(s)" in made.stdout
        again = modelyard("backup", str(tmp_path / "bk"), *flags)
        assert again.returncode == 1 and "is not empty" in again.stderr

    to = ["--backend-store-uri", f"sqlite:///{new / 'modelyard.db'}"]
    to += ["--artifacts-destination", str(new / "artifacts")]
    restored = modelyard("restore", str(tmp_path / "bk"), *to)
    assert restored.returncode == 0, restored.stderr
    twice = modelyard("restore", str(tmp_path / "bk"), *to)
    assert twice.returncode == 1 and "already exists" in twice.stderr

    with modelyard_server(new) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        mlflow.set_tracking_uri(server.url)
        got = mlflow.artifacts.download_artifacts(
            artifact_uri="models:/mnist_test/Production", dst_path=str(tmp_path / "dl")
        )
        assert files_of(Path(got)) == files_of(model)
