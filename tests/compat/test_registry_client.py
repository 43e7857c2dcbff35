"""The model registry driven by the stock mlflow 3.x client, as the seed's user does."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from servers import ServerProcess


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _trainer_output(folder: Path, seed: int) -> Path:
    """What a Hugging Face trainer leaves behind: a plain folder, no MLmodel."""
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "config.json").write_text(f'{{"seed": {seed}}}')
    (folder / "checkpoint" / "weights.bin").write_bytes(bytes(range(256)) * (1000 + seed))
    return folder


def test_seed_workflow_verbatim(
    mlflow_at: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = mlflow_at
    name = _name("mnist_test")
    mlflow.set_experiment(_name("seed"))
    versions = []
    for seed in (1, 2, 3):
        workdir = tmp_path / f"train{seed}"
        _trainer_output(workdir / "output_model", seed)
        monkeypatch.chdir(workdir)
        # --- the seed's code, verbatim but for the model name ---
        with mlflow.start_run() as run:
            mlflow.log_artifacts("output_model")
            model_uri = f"runs:/{run.info.run_id}"
            register_result = mlflow.register_model(model_uri, name)
            mlflow_client = mlflow.tracking.MlflowClient()
            mlflow_client.transition_model_version_stage(
                name=register_result.name, version=register_result.version, stage="Staging"
            )
        versions.append(register_result)
    assert [int(v.version) for v in versions] == [1, 2, 3]
    client = MlflowClient()
    stages = {
        int(v.version): v.current_stage for v in client.search_model_versions(f"name = '{name}'")
    }
    assert stages == {1: "Archived", 2: "Archived", 3: "Staging"}
    # what gets downloaded is exactly the run's folder
    for seed, version in zip((1, 2, 3), versions, strict=True):
        dst = mlflow.artifacts.download_artifacts(
            f"models:/{name}/{version.version}", dst_path=str(tmp_path / f"dl{seed}")
        )
        assert _digest(Path(dst)) == _digest(tmp_path / f"train{seed}" / "output_model")


def test_seed_run_colon_spelling_is_accepted(mlflow_at: Any, tmp_path: Path) -> None:
    mlflow = mlflow_at
    out = _trainer_output(tmp_path / "output_model", 7)
    mlflow.set_experiment(_name("seed-run-colon"))
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(out))
    client = MlflowClient()
    name = _name("colon")
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"run:/{run.info.run_id}", run_id=run.info.run_id)
    assert mv.version == "1"
    dst = mlflow.artifacts.download_artifacts(f"models:/{name}/1", dst_path=str(tmp_path / "dl"))
    assert _digest(Path(dst)) == _digest(out)


def _registered(mlflow: Any, tmp_path: Path, name: str, n: int) -> list[str]:
    """n versions of `name`, each from its own run; returns their run ids."""
    client = MlflowClient()
    client.create_registered_model(name)
    run_ids = []
    for i in range(n):
        out = _trainer_output(tmp_path / f"{name}-{i}", i)
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(out), artifact_path="model")
        client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
        run_ids.append(run.info.run_id)
    return run_ids


def test_stages_are_exclusive_and_downloads_follow_them(mlflow_at: Any, tmp_path: Path) -> None:
    mlflow = mlflow_at
    mlflow.set_experiment(_name("stages"))
    name = _name("clf")
    _registered(mlflow, tmp_path, name, 4)
    client = MlflowClient()
    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "production")  # case-insensitive
    client.transition_model_version_stage(name, "3", "Staging")
    by_version = {
        v.version: v.current_stage for v in client.search_model_versions(f"name='{name}'")
    }
    assert by_version == {"1": "Archived", "2": "Production", "3": "Staging", "4": "None"}
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Production": "2", "Staging": "3", "None": "4"}
    assert [v.version for v in client.get_latest_versions(name, stages=["Production"])] == ["2"]
    client.set_registered_model_alias(name, "champion", "3")
    assert client.get_model_version_by_alias(name, "champion").version == "3"
    for uri, i in (
        (f"models:/{name}/Production", 1),
        (f"models:/{name}/Staging", 2),
        (f"models:/{name}/4", 3),
        (f"models:/{name}/latest", 3),
        (f"models:/{name}@champion", 2),
    ):
        dst = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / uuid.uuid4().hex))
        assert _digest(Path(dst)) == _digest(tmp_path / f"{name}-{i}"), uri
    with pytest.raises(MlflowException) as err:
        client.transition_model_version_stage(name, "1", "Prod")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_metadata_rename_delete_and_errors(mlflow_at: Any, tmp_path: Path) -> None:
    mlflow = mlflow_at
    mlflow.set_experiment(_name("meta"))
    name = _name("meta")
    _registered(mlflow, tmp_path, name, 2)
    client = MlflowClient()
    client.update_registered_model(name, description="my model")
    client.update_model_version(name, "1", description="first")
    client.set_registered_model_tag(name, "team", "vision")
    client.set_model_version_tag(name, "1", "validated", "yes")
    model = client.get_registered_model(name)
    assert model.description == "my model" and model.tags == {"team": "vision"}
    v1 = client.get_model_version(name, "1")
    assert v1.description == "first" and v1.tags == {"validated": "yes"}
    client.delete_model_version_tag(name, "1", "validated")
    client.delete_registered_model_tag(name, "team")
    assert client.get_model_version(name, "1").tags == {}
    new = name + "-renamed"
    client.rename_registered_model(name, new)
    assert client.get_model_version(new, "2").name == new
    client.delete_model_version(new, "2")
    client.create_model_version(
        new,
        client.get_model_version(new, "1").source,
        run_id=client.get_model_version(new, "1").run_id,
    )
    assert sorted(v.version for v in client.search_model_versions(f"name='{new}'")) == ["1", "3"]
    with pytest.raises(MlflowException) as err:
        client.get_registered_model(name)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as err:
        client.create_registered_model(new)
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as err:
        client.create_model_version(
            new, "file:///etc", run_id=client.get_model_version(new, "1").run_id
        )
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    client.delete_registered_model(new)
    assert client.search_registered_models(f"name = '{new}'") == []


def test_search_registered_models_filters_and_pages(mlflow_at: Any) -> None:
    client = MlflowClient()
    prefix = _name("page")
    for i in range(7):
        client.create_registered_model(f"{prefix}-{i}", tags={"even": str(i % 2 == 0)})
    seen: list[str] = []
    token = None
    while True:
        page = client.search_registered_models(
            f"name LIKE '{prefix}-%'", max_results=3, order_by=["name ASC"], page_token=token
        )
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert seen == [f"{prefix}-{i}" for i in range(7)]
    evens = client.search_registered_models(
        f"name ILIKE '{prefix.upper()}-%' and tags.even = 'True'"
    )
    assert sorted(m.name for m in evens) == [f"{prefix}-{i}" for i in (0, 2, 4, 6)]


def test_sklearn_log_model_and_pyfunc_load_by_stage(mlflow_at: Any) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_at
    mlflow.set_experiment(_name("sklearn"))
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    model = LogisticRegression().fit(X, y)
    name = _name("sk")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name)
    assert str(info.registered_model_version) == "1"
    MlflowClient().transition_model_version_stage(name, "1", "Production")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/Production")
    assert list(loaded.predict(X)) == list(model.predict(X))


def test_promotion_history_and_rollback(
    mlflow_at: Any, live_server: ServerProcess, tmp_path: Path
) -> None:
    mlflow = mlflow_at
    mlflow.set_experiment(_name("history"))
    name = _name("hist")
    _registered(mlflow, tmp_path, name, 2)
    client = MlflowClient()
    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "Production")
    api = f"{live_server.url}/api/modelyard/v1/registered-models"
    events = httpx.get(f"{api}/history", params={"name": name}).json()
    assert events, "history must not be empty"
    back = httpx.post(
        f"{api}/rollback", json={"name": name, "stage": "Production", "comment": "bad"}
    )
    assert back.status_code == 200, back.text
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name='{name}'")}
    assert stages == {"1": "Production", "2": "Archived"}
