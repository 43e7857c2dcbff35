"""Drop-in compatibility (issue 12): behaviours MLflow's own server tests expect,
driven here through the stock mlflow client and raw HTTP, on SQLite and PostgreSQL.

The servers here use a `file://` default artifact root, as MLflow's tests do, so
that local-path model-version sources can be checked against a run's folder.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from servers import ServerProcess, modelyard_server, throwaway_postgres

BACKENDS = ["sqlite", "postgresql"]  # as tests/conftest.py
API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", params=BACKENDS)
def file_root_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp(f"dropin-{request.param}")
    root = (data_dir / "file-root").as_uri()
    extra = ["--default-artifact-root", root]
    if request.param == "sqlite":
        with modelyard_server(data_dir, extra_args=extra) as server:
            yield server
    else:
        with throwaway_postgres() as url, modelyard_server(data_dir, url, extra) as server:
            yield server


@pytest.fixture
def client(file_root_server: ServerProcess) -> MlflowClient:
    return MlflowClient(tracking_uri=file_root_server.url, registry_uri=file_root_server.url)


@pytest.fixture
def http(file_root_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=file_root_server.url, timeout=60) as c:
        yield c


def _bad(response: httpx.Response, *fragments: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    for fragment in fragments:
        assert fragment in body["message"], body["message"]


def _run(client: MlflowClient) -> Any:
    exp = client.create_experiment(_name("exp"))
    return client.create_run(exp)


# -- 1. model-version sources ---------------------------------------------------------


def test_runs_uri_with_matching_run_id_needs_no_local_run(client: MlflowClient) -> None:
    name = _name("foreign")
    client.create_registered_model(name)
    foreign = uuid.uuid4().hex  # a run of another server: not known here
    mv = client.create_model_version(name, f"runs:/{foreign}/model", foreign)
    assert (mv.version, mv.run_id, mv.source) == ("1", foreign, f"runs:/{foreign}/model")
    assert client.get_model_version_download_uri(name, "1") == f"runs:/{foreign}/model"
    assert [v.version for v in client.search_model_versions(f"run_id = '{foreign}'")] == ["1"]


def test_runs_uri_must_agree_with_run_id(client: MlflowClient, http: httpx.Client) -> None:
    name = _name("mismatch")
    client.create_registered_model(name)
    body = {"name": name, "source": "runs:/aaaa/model", "run_id": "bbbb"}
    _bad(http.post(f"{API}/model-versions/create", json=body), "run_id request parameter")
    # Without a run_id, the URI's run must be one of ours.
    body = {"name": name, "source": f"runs:/{uuid.uuid4().hex}/model"}
    _bad(http.post(f"{API}/model-versions/create", json=body), "Invalid model version source")


def test_local_sources_inside_the_run_folder(client: MlflowClient, http: httpx.Client) -> None:
    name = _name("local")
    client.create_registered_model(name)
    run = _run(client)
    uri = run.info.artifact_uri
    assert uri.startswith("file://")
    path = uri[len("file://") :]
    for source in (path, uri, f"{uri}/model", f"{uri}/.", f"{uri}/model/..", f"{path}/a/../b"):
        response = http.post(
            f"{API}/model-versions/create",
            json={"name": name, "source": source, "run_id": run.info.run_id},
        )
        assert response.status_code == 200, (source, response.text)
        assert response.json()["model_version"]["source"] == source


def test_local_sources_outside_or_without_a_run_are_refused(
    client: MlflowClient, http: httpx.Client
) -> None:
    name = _name("local-bad")
    client.create_registered_model(name)
    run = _run(client)
    uri, run_id = run.info.artifact_uri, run.info.run_id
    local_words = "To use a local path as a model version source, the run_id request parameter"
    cases = [
        ({"source": uri}, local_words),  # no run_id
        ({"source": "file:///tmp"}, local_words),
        ({"source": "/etc", "run_id": run_id}, local_words),
        ({"source": f"{uri}/../../../../etc", "run_id": run_id}, local_words),
        ({"source": f"{uri}-sibling", "run_id": run_id}, local_words),
        ({"source": f"{uri}/%2e%2e/%2e%2e/etc", "run_id": run_id}, "Invalid model version source"),
        ({"source": f"{uri}/%252e%252e/x", "run_id": run_id}, "Invalid model version source"),
        ({"source": f"{uri}/a%00b", "run_id": run_id}, "Invalid model version source"),
    ]
    for extra, words in cases:
        response = http.post(f"{API}/model-versions/create", json={"name": name, **extra})
        _bad(response, words)
    # A file:// URI naming another host is bad input, not a server error.
    response = http.post(
        f"{API}/model-versions/create",
        json={"name": name, "source": "file://10.1.2.3/path/to/model", "run_id": run_id},
    )
    _bad(response, "is not a valid remote uri")
    assert client.search_model_versions(f"name = '{name}'") == []


def test_remote_sources_keep_refusing_relative_paths(
    client: MlflowClient, http: httpx.Client
) -> None:
    name = _name("remote")
    client.create_registered_model(name)
    run_id = _run(client).info.run_id
    for source in (
        "mlflow-artifacts://host:9000/models/../../../",
        "http://host:9000/models/../../../",
        "s3a://bucket/api/2.0/mlflow-artifacts/artifacts/../../../",
        "mlflow-artifacts://host:9000/models/..%2f..%2fartifacts",
    ):
        body = {"name": name, "source": source, "run_id": run_id}
        _bad(
            http.post(f"{API}/model-versions/create", json=body),
            "If supplying a source as an http, https,",
        )


# -- 2 and 3. logged models: metrics, source_run_id ----------------------------------


def test_log_metric_with_model_id_records_it_on_the_model(client: MlflowClient) -> None:
    run = _run(client)
    model = client.create_logged_model(run.info.experiment_id)
    client.log_metric(
        run.info.run_id,
        "acc",
        0.5,
        timestamp=123456789,
        step=1,
        dataset_name="val",
        dataset_digest="d1",
        model_id=model.model_id,
    )
    client.log_batch(
        run.info.run_id,
        metrics=[
            Metric("loss", 0.25, 1000, 2, model.model_id, dataset_name="val", dataset_digest="d2"),
            Metric("nan", math.nan, 1000, 0, model_id=model.model_id),
            Metric("plain", 1.0, 1000, 0),
        ],
    )
    got = client.get_logged_model(model.model_id).metrics
    by_key = {m.key: m for m in got}
    assert set(by_key) == {"acc", "loss", "nan"}
    assert by_key["acc"] == Metric(
        key="acc",
        value=0.5,
        timestamp=123456789,
        step=1,
        model_id=model.model_id,
        dataset_name="val",
        dataset_digest="d1",
        run_id=run.info.run_id,
    )
    assert (by_key["loss"].value, by_key["loss"].dataset_name) == (0.25, "val")
    assert math.isnan(by_key["nan"].value)
    # The run has all of them as ordinary metrics too.
    assert set(client.get_run(run.info.run_id).data.metrics) == {"acc", "loss", "nan", "plain"}


def test_metric_for_an_unknown_model_is_refused_before_anything_is_written(
    client: MlflowClient,
) -> None:
    run = _run(client)
    with pytest.raises(MlflowException) as info:
        client.log_metric(run.info.run_id, "acc", 0.5, model_id="m-does-not-exist")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_run(run.info.run_id).data.metrics == {}


def test_search_logged_models_by_dataset_and_metric(client: MlflowClient) -> None:
    run = _run(client)
    exp = run.info.experiment_id
    a, b, c = (client.create_logged_model(exp, name=n) for n in ("a", "b", "c"))
    for model, value in ((a, 0.9), (b, 0.7)):
        client.log_metric(
            run.info.run_id,
            "acc",
            value,
            dataset_name="val",
            dataset_digest="1",
            model_id=model.model_id,
        )
    client.log_metric(
        run.info.run_id, "acc", 0.1, dataset_name="train", dataset_digest="t", model_id=c.model_id
    )

    def names(**kwargs: Any) -> list[str]:
        return [m.name for m in client.search_logged_models(experiment_ids=[exp], **kwargs)]

    assert sorted(names(datasets=[{"dataset_name": "val"}])) == ["a", "b"]
    assert names(datasets=[{"dataset_name": "val", "dataset_digest": "2"}]) == []
    assert names(datasets=[{"dataset_name": "train"}]) == ["c"]
    assert names(filter_string="metrics.acc > 0.8") == ["a"]
    assert names(filter_string="metrics.acc > 0.05", datasets=[{"dataset_name": "train"}]) == ["c"]
    order = [{"field_name": "metrics.acc", "ascending": True, "dataset_name": "val"}]
    # Models without the metric on that dataset come last.
    assert names(order_by=order) == ["b", "a", "c"]
    order = [{"field_name": "metrics.acc", "ascending": False}]
    assert names(order_by=order) == ["a", "b", "c"]


def test_create_logged_model_keeps_source_run_id_as_given(client: MlflowClient) -> None:
    exp = client.create_experiment(_name("exp"))
    model = client.create_logged_model(exp, source_run_id="123")
    assert model.source_run_id == "123"
    assert client.get_logged_model(model.model_id).source_run_id == "123"


# -- 4. endpoints the MLflow UI calls -------------------------------------------------


def test_get_history_bulk_validates_like_mlflow(http: httpx.Client) -> None:
    url = f"{AJAX}/metrics/get-history-bulk"
    _bad(http.get(url, params={"metric_key": "k"}), "must specify at least one run_id")
    too_many = [("run_id", f"id_{i}") for i in range(101)] + [("metric_key", "k")]
    _bad(http.get(url, params=too_many), "cannot specify more than 100 run_ids")
    _bad(http.get(url, params={"run_id": "123"}), "must specify a metric_key")


def test_get_history_bulk_orders_by_run_then_time_step_value(
    client: MlflowClient, http: httpx.Client
) -> None:
    run1, run2 = _run(client), _run(client)
    points = [(1, 3, 12.0), (1, 2, 10.0), (2, 3, 12.0), (1, 3, 11.0)]
    for run, offset in ((run1, 0.0), (run2, 1.0)):
        for ts, step, value in points:
            client.log_metric(run.info.run_id, "m", value + offset, timestamp=ts, step=step)
    ids = sorted([run1.info.run_id, run2.info.run_id])
    response = http.get(
        f"{AJAX}/metrics/get-history-bulk",
        params=[("run_id", run2.info.run_id), ("run_id", run1.info.run_id), ("metric_key", "m")],
    )
    assert response.status_code == 200, response.text
    got = [(m["run_id"], m["timestamp"], m["step"], m["value"]) for m in response.json()["metrics"]]
    offsets = {run1.info.run_id: 0.0, run2.info.run_id: 1.0}
    expected = [
        (rid, ts, step, value + offsets[rid]) for rid in ids for ts, step, value in sorted(points)
    ]
    assert got == expected
    limited = http.get(
        f"{AJAX}/metrics/get-history-bulk",
        params={"run_id": run1.info.run_id, "metric_key": "m", "max_results": 2},
    )
    assert [(m["timestamp"], m["step"]) for m in limited.json()["metrics"]] == [(1, 2), (1, 3)]


def test_search_datasets(client: MlflowClient, http: httpx.Client) -> None:
    url = f"{AJAX}/experiments/search-datasets"
    _bad(http.post(url, json={}), "must specify at least one experiment_id")
    _bad(http.post(url, json={"experiment_ids": []}), "must specify at least one experiment_id")
    too_many = {"experiment_ids": [str(i) for i in range(21)]}
    _bad(http.post(url, json=too_many), "cannot specify more than 20")
    run = _run(client)
    exp = run.info.experiment_id
    client.log_inputs(
        run.info.run_id,
        [
            DatasetInput(
                Dataset(name="train", digest="d1", source_type="local", source="x"),
                [InputTag(key="mlflow.data.context", value="training")],
            ),
            DatasetInput(Dataset(name="extra", digest="d2", source_type="local", source="y")),
        ],
    )
    response = http.post(url, json={"experiment_ids": [exp]})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["dataset_summaries"], key=lambda d: d["name"]) == [
        {"experiment_id": exp, "name": "extra", "digest": "d2"},
        {"experiment_id": exp, "name": "train", "digest": "d1", "context": "training"},
    ]


# -- 5. types and messages ------------------------------------------------------------


def test_numbers_where_strings_belong_are_refused(client: MlflowClient, http: httpx.Client) -> None:
    _bad(
        http.post(f"{API}/experiments/create", json={"name": 123}),
        "Invalid value 123 for parameter 'name' supplied",
    )
    _bad(
        http.post(f"{API}/experiments/create", json={"name": "x", "artifact_location": 9.0}),
        "Invalid value 9.0 for parameter 'artifact_location'",
    )
    run_id = _run(client).info.run_id
    metric = {"key": "m", "value": 41, "timestamp": 59, "step": 26}
    _bad(
        http.post(f"{API}/runs/log-metric", json={"run_id": 31, **metric}),
        "Invalid value 31 for parameter 'run_id' supplied",
    )
    _bad(
        http.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "k", "value": 41}),
        "Invalid value 41 for parameter 'value' supplied",
    )
    _bad(
        http.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": 31, "value": "v"}),
        "Invalid value 31 for parameter 'key' supplied",
    )
    assert client.get_run(run_id).data.tags.get("k") is None


def test_missing_field_inside_a_list_names_its_path(
    client: MlflowClient, http: httpx.Client
) -> None:
    run_id = _run(client).info.run_id
    url = f"{API}/runs/log-batch"
    _bad(
        http.post(url, json={"run_id": run_id, "metrics": [{"key": "mae", "value": 2.5}]}),
        "Missing value for required parameter 'metrics[0].timestamp'",
    )
    _bad(
        http.post(url, json={"run_id": run_id, "params": [{"value": "v"}]}),
        "Missing value for required parameter 'params[0].key'",
    )
    ok = http.post(
        url, json={"run_id": run_id, "metrics": [{"key": "mae", "value": 2.5, "timestamp": 1}]}
    )
    assert ok.status_code == 200, ok.text


def test_upload_artifact_refuses_traversal_before_the_body(
    client: MlflowClient, http: httpx.Client, tmp_path: Path
) -> None:
    run = _run(client)
    response = http.post(
        f"{AJAX}/upload-artifact", params={"run_uuid": run.info.run_id, "path": "../test.txt"}
    )
    _bad(response, "Invalid path")
    response = http.post(
        f"{AJAX}/upload-artifact",
        params={"run_uuid": run.info.run_id, "path": "ok.txt"},
        content=b"hello",
    )
    assert response.status_code == 200, response.text
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["ok.txt"]
