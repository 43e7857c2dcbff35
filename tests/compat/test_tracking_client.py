"""The stock mlflow 3.x client drives a real modelyard server, as users do."""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_fluent_logging_round_trips(mlflow_at: Any) -> None:
    mlflow = mlflow_at
    exp_id = mlflow.set_experiment(_name("fluent")).experiment_id
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"layers": 3, "opt": "adam"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"a": "1", "b": "2"})
    got = MlflowClient().get_run(run.info.run_id)
    assert got.info.experiment_id == exp_id
    assert got.info.run_name == "first"
    assert got.info.status == "FINISHED"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.data.params == {"lr": "0.01", "layers": "3", "opt": "adam"}
    assert got.data.metrics == {"loss": pytest.approx(0.2), "acc": 0.9, "f1": 0.8}
    assert got.data.tags["team"] == "vision"
    assert got.data.tags["mlflow.runName"] == "first"
    assert got.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run.info.run_id}/artifacts"
    history = MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [m.value for m in history] == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2])


def test_log_batch_and_special_values(mlflow_at: Any) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment(_name("batch"))
    run = client.create_run(exp_id)
    metrics = [Metric("m", float(i), 1000 + i, i) for i in range(1000)]
    client.log_batch(
        run.info.run_id,
        metrics=metrics,
        params=[Param(f"p{i}", str(i)) for i in range(50)],
        tags=[RunTag(f"t{i}", "x") for i in range(50)],
    )
    client.log_metric(run.info.run_id, "nan", float("nan"), step=1)
    client.log_metric(run.info.run_id, "inf", float("inf"), step=1)
    client.log_metric(run.info.run_id, "ninf", float("-inf"), step=1)
    got = client.get_run(run.info.run_id)
    assert got.data.metrics["m"] == 999.0
    assert len(got.data.params) == 50
    assert math.isnan(got.data.metrics["nan"])
    assert got.data.metrics["inf"] > 1e308 and got.data.metrics["ninf"] < -1e308
    assert len(client.get_metric_history(run.info.run_id, "m")) == 1000


def test_batch_limits_are_enforced(mlflow_at: Any, live_server: Any) -> None:
    # The client splits oversized batches itself, so send one over the wire directly.
    import httpx

    client = MlflowClient()
    run = client.create_run(client.create_experiment(_name("limits")))
    resp = httpx.post(
        f"{live_server.url}/api/2.0/mlflow/runs/log-batch",
        json={
            "run_id": run.info.run_id,
            "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}],
            "params": [{"key": f"p{i}", "value": "v"} for i in range(101)],
        },
    )
    assert resp.status_code == 400
    assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "at most 100 params" in resp.json()["message"]
    got = client.get_run(run.info.run_id).data
    assert got.params == {} and got.metrics == {}  # nothing half-written


def test_params_are_immutable(mlflow_at: Any) -> None:
    mlflow = mlflow_at
    mlflow.set_experiment(_name("immutable"))
    with mlflow.start_run():
        mlflow.log_param("depth", 3)
        mlflow.log_param("depth", 3)  # same value: fine
        with pytest.raises(MlflowException) as err:
            mlflow.log_param("depth", 5)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in str(err.value)


def test_error_codes_the_client_branches_on(mlflow_at: Any) -> None:
    client = MlflowClient()
    name = _name("dupe")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as err:
        client.create_experiment(name)
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as err:
        client.get_experiment("987654321")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as err:
        client.get_run("0" * 32)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name(_name("nope")) is None
    # set_experiment creates what get-by-name did not find
    mlflow = mlflow_at
    exp = mlflow.set_experiment(_name("created"))
    assert client.get_experiment(exp.experiment_id).name == exp.name


def test_default_experiment(mlflow_at: Any) -> None:
    exp = MlflowClient().get_experiment("0")
    assert exp.name == "Default"
    assert exp.artifact_location == "mlflow-artifacts:/0"


def test_artifacts_nested_folder_with_large_file(mlflow_at: Any, tmp_path: Path) -> None:
    mlflow = mlflow_at
    src = tmp_path / "output_model"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "config.json").write_text('{"layers": 3}')
    (src / "sub" / "notes.txt").write_text("hello")
    (src / "sub" / "deeper" / "weights.bin").write_bytes(os.urandom(50 * 1024 * 1024))
    mlflow.set_experiment(_name("artifacts"))
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src))
        mlflow.log_artifacts(str(src), artifact_path="copy")
    client = MlflowClient()
    top = {f.path: f for f in client.list_artifacts(run.info.run_id)}
    assert set(top) == {"config.json", "sub", "copy"}
    assert top["sub"].is_dir and not top["config.json"].is_dir
    assert top["config.json"].file_size == len('{"layers": 3}')
    deeper = client.list_artifacts(run.info.run_id, "sub/deeper")
    assert [(f.path, f.file_size) for f in deeper] == [("sub/deeper/weights.bin", 50 * 1024 * 1024)]
    dst = Path(
        mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path / "dl"))
    )
    for rel in ("config.json", "sub/notes.txt", "sub/deeper/weights.bin"):
        assert (dst / rel).read_bytes() == (src / rel).read_bytes(), rel
    single = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="copy/sub/notes.txt", dst_path=str(tmp_path / "one")
    )
    assert Path(single).read_text() == "hello"


def test_search_runs_filters_order_and_pages(mlflow_at: Any) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment(_name("search"))
    ids = []
    for i in range(12):
        run = client.create_run(
            exp_id, run_name=f"r{i:02d}", tags={"parity": "even" if i % 2 == 0 else "odd"}
        )
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, 0, 0)],
            params=[Param("lr", "0.01" if i % 3 == 0 else "0.1")],
        )
        ids.append(run.info.run_id)
    found = client.search_runs(
        [exp_id], "metrics.acc > 0.3 and params.lr = '0.01'", order_by=["metrics.acc DESC"]
    )
    assert [r.info.run_name for r in found] == ["r09", "r06"]
    evens = client.search_runs(
        [exp_id], "tags.parity = 'even'", order_by=["attributes.run_name ASC"]
    )
    assert [r.info.run_name for r in evens] == [f"r{i:02d}" for i in range(0, 12, 2)]
    like = client.search_runs([exp_id], "attributes.run_name LIKE 'r1%'")
    assert sorted(r.info.run_name for r in like) == ["r10", "r11"]
    seen: list[str] = []
    token = None
    while True:
        page = client.search_runs(
            [exp_id], max_results=5, order_by=["metrics.acc ASC"], page_token=token
        )
        seen.extend(r.info.run_name for r in page)
        token = page.token
        if not token:
            break
    assert seen == [f"r{i:02d}" for i in range(12)]
    with pytest.raises(MlflowException) as err:
        client.search_runs([exp_id], "metrics.acc >")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    df = mlflow_at.search_runs([exp_id], filter_string="params.lr = '0.1'")
    assert len(df) == 8


def test_delete_and_restore(mlflow_at: Any) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment(_name("lifecycle"))
    run = client.create_run(exp_id)
    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([exp_id]) == []
    assert len(client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)) == 1
    client.restore_run(run.info.run_id)
    assert len(client.search_runs([exp_id])) == 1
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"
    client.rename_experiment(exp_id, exp_id + "-renamed-" + uuid.uuid4().hex[:4])
    client.set_experiment_tag(exp_id, "k", "v")
    assert client.get_experiment(exp_id).tags["k"] == "v"
    client.set_tag(run.info.run_id, "drop", "me")
    client.delete_tag(run.info.run_id, "drop")
    assert "drop" not in client.get_run(run.info.run_id).data.tags


def test_log_model_history_tag(mlflow_at: Any, live_server: Any) -> None:
    import json

    import httpx

    client = MlflowClient()
    run = client.create_run(client.create_experiment(_name("logmodel")))
    model = {
        "artifact_path": "model",
        "flavors": {"python_function": {"config": {"x": 1}, "env": "conda.yaml"}},
        "utc_time_created": "2026-01-01 00:00:00.000000",
        "run_id": run.info.run_id,
    }
    for _ in range(2):
        resp = httpx.post(
            f"{live_server.url}/api/2.0/mlflow/runs/log-model",
            json={"run_id": run.info.run_id, "model_json": json.dumps(model)},
        )
        assert resp.status_code == 200, resp.text
    history = json.loads(client.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
    assert len(history) == 2
    assert history[0]["flavors"] == {"python_function": {"env": "conda.yaml"}}
    bad = httpx.post(
        f"{live_server.url}/api/2.0/mlflow/runs/log-model",
        json={"run_id": run.info.run_id, "model_json": "{not json"},
    )
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
