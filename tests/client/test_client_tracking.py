"""The client's MLflow-namespace calls (experiments, runs, params, metrics,
artifacts) against modelyard (live server on SQLite and PostgreSQL, and the
app in-process) and against a stock `mlflow server`: one suite, three kinds
of server."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import ServerProcess, free_port

import modelyard
from modelyard.client import Client, InvalidArgument, ServerUnreachable
from modelyard.entities import Metric, Param, RunStatus, Tag
from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist

from .helpers import tree, unique


class TrackingSuite:
    """Tests that need only a `client` fixture (provided per server below)."""

    def test_experiment_create_get_search(self, client: Client) -> None:
        name = unique("exp")
        exp_id = client.create_experiment(name, tags={"team": "vision"})
        exp = client.get_experiment(exp_id)
        assert (exp.name, dict((t.key, t.value) for t in exp.tags)) == (name, {"team": "vision"})
        assert client.get_experiment_by_name(name) == exp
        assert client.get_experiment_by_name(unique("missing")) is None
        found = client.search_experiments(f"name = '{name}'").items
        assert [e.experiment_id for e in found] == [exp_id]

    def test_run_lifecycle_params_tags_metrics(self, client: Client) -> None:
        exp_id = client.create_experiment(unique("exp"))
        run = client.create_run(exp_id, run_name="train", tags={"purpose": "test"})
        run_id = run.info.run_id
        assert run.info.status == RunStatus.RUNNING
        client.log_param(run_id, "lr", 0.01)
        client.set_tag(run_id, "stage", "dev")
        client.log_batch(
            run_id,
            metrics=[Metric("acc", 0.5, 1000, 0)],
            params=[Param(f"p{i}", str(i)) for i in range(150)],  # > 100: two batches
            tags=[Tag("t", "v")],
        )
        for step in range(2500):  # > 1000: the batcher splits it
            client.log_metric(run_id, "loss", 1 / (step + 1), step=step)
        client.log_metric(run_id, "weird", math.nan)
        client.set_terminated(run_id)
        got = client.get_run(run_id)
        assert got.info.status == RunStatus.FINISHED and got.info.end_time
        assert got.info.run_name == "train"
        params = {p.key: p.value for p in got.data.params}
        assert params["lr"] == "0.01" and len(params) == 151
        tags = {t.key: t.value for t in got.data.tags}
        assert tags["stage"] == "dev" and tags["purpose"] == "test" and tags["t"] == "v"
        history = client.get_metric_history(run_id, "loss")
        assert sorted(m.step for m in history) == list(range(2500))
        latest = {m.key: m.value for m in got.data.metrics}
        assert latest["loss"] == pytest.approx(1 / 2500)
        assert math.isnan(latest["weird"])

    def test_search_runs_with_the_search_grammar(self, client: Client) -> None:
        exp_id = client.create_experiment(unique("exp"))
        ids = []
        for lr, acc in [("0.1", 0.7), ("0.01", 0.9), ("0.001", 0.95)]:
            run_id = client.create_run(exp_id).info.run_id
            client.log_batch(run_id, metrics=[Metric("acc", acc, 1, 0)], params=[Param("lr", lr)])
            client.set_terminated(run_id)
            ids.append(run_id)
        page = client.search_runs([exp_id], "metrics.acc > 0.8", order_by=["metrics.acc DESC"])
        assert [r.info.run_id for r in page.items] == [ids[2], ids[1]]
        page = client.search_runs([exp_id], "params.lr = '0.1'")
        assert [r.info.run_id for r in page.items] == [ids[0]]
        with pytest.raises(InvalidParameterValue):
            client.search_runs([exp_id], "metrics.acc >>> 1")

    def test_artifacts_round_trip_byte_exact(
        self, client: Client, model_dir: Path, tmp_path: Path
    ) -> None:
        run_id = client.create_run(client.create_experiment(unique("exp"))).info.run_id
        client.log_artifacts(run_id, model_dir, "model")
        client.log_artifact(run_id, model_dir / "README.txt")
        listing = client.list_artifacts(run_id)
        assert {(f.path, f.is_dir) for f in listing} == {("model", True), ("README.txt", False)}
        inner = {f.path: f.file_size for f in client.list_artifacts(run_id, "model")}
        assert inner["model/weights.bin"] == (model_dir / "weights.bin").stat().st_size
        got = client.download_artifacts(run_id, "model", tmp_path / "dl")
        assert tree(got) == tree(model_dir)
        one = client.download_artifacts(run_id, "model/weights.bin", tmp_path / "one.bin")
        assert one.read_bytes() == (model_dir / "weights.bin").read_bytes()
        # The same through a runs:/ URI, into an existing directory.
        (tmp_path / "into").mkdir()
        path = client.download_artifact_uri(f"runs:/{run_id}/README.txt", tmp_path / "into")
        assert path == tmp_path / "into" / "README.txt" and path.read_text() == "mnist model\n"
        assert not [p for p in (tmp_path / "dl").rglob(".*")]  # no temporary files left

    def test_missing_things_are_clear_errors(self, client: Client, tmp_path: Path) -> None:
        with pytest.raises(ResourceDoesNotExist):
            client.get_run("0" * 32)
        run_id = client.create_run(client.create_experiment(unique("exp"))).info.run_id
        with pytest.raises(ResourceDoesNotExist):
            client.download_artifacts(run_id, "nope.txt", tmp_path / "x")
        with pytest.raises(InvalidArgument, match="Not a file"):
            client.log_artifact(run_id, tmp_path / "absent.txt")
        with pytest.raises(InvalidArgument, match="artifact path"):
            client.download_artifacts(run_id, "../escape", tmp_path / "x")

    def test_metric_errors_surface_when_the_run_ends(self, client: Client) -> None:
        run_id = client.create_run(client.create_experiment(unique("exp"))).info.run_id
        client.log_metric(run_id, "ok", 1.0)
        client.log_metric(run_id, "../bad", 1.0)  # refused by the server, in the background
        with pytest.raises(InvalidParameterValue):
            client.set_terminated(run_id)
        assert client.get_run(run_id).info.status == RunStatus.FAILED


class TestOnModelyard(TrackingSuite):
    @pytest.fixture
    def client(self, live_server: ServerProcess) -> Iterator[Client]:
        with Client(live_server.url) as client:
            yield client


class TestInProcess(TrackingSuite):
    @pytest.fixture
    def client(self, inproc_client: Client) -> Client:
        return inproc_client


class TestOnStockMlflow(TrackingSuite):
    @pytest.fixture
    def client(self, mlflow_server: str) -> Iterator[Client]:
        with Client(mlflow_server) as client:
            yield client


# -- the fluent API, against live servers ----------------------------------------
class FluentSuite:
    def test_seed_shaped_run(
        self, url: str, fluent_at: Any, model_dir: Path, tmp_path: Path
    ) -> None:
        fluent_at(url)
        assert modelyard.get_tracking_uri() == url
        modelyard.set_experiment(unique("fluent"))
        with modelyard.start_run(run_name="seed") as run:
            modelyard.log_params({"epochs": 3, "lr": 0.001})
            modelyard.log_param("batch", 64)
            for step in range(1200):
                modelyard.log_metrics({"loss": 1 / (step + 1), "acc": step / 1200}, step=step)
            modelyard.set_tags({"framework": "none"})
            modelyard.set_tag("seed", "yes")
            modelyard.log_artifacts(model_dir)
            modelyard.log_artifact(model_dir / "README.txt", "docs")
            assert modelyard.active_run() is run
        assert modelyard.active_run() is None
        with Client(url) as client:
            got = client.get_run(run.info.run_id)
            assert got.info.status == RunStatus.FINISHED
            assert {p.key for p in got.data.params} == {"epochs", "lr", "batch"}
            assert len(client.get_metric_history(run.run_id, "acc")) == 1200
            files = tree(client.download_artifacts(run.run_id, None, tmp_path / "all"))
        assert files.pop("docs/README.txt") == b"mnist model\n"
        assert files == tree(model_dir)

    def test_failing_block_ends_the_run_failed(self, url: str, fluent_at: Any) -> None:
        fluent_at(url)
        with pytest.raises(ZeroDivisionError), modelyard.start_run() as run:
            modelyard.log_metric("x", 1.0)
            _ = 1 / 0
        with Client(url) as client:
            got = client.get_run(run.run_id)
        assert got.info.status == RunStatus.FAILED
        assert [m.key for m in got.data.metrics] == ["x"]  # flushed before the run ended

    def test_nested_runs_and_auto_start(self, url: str, fluent_at: Any) -> None:
        fluent_at(url)
        with modelyard.start_run() as parent:
            with pytest.raises(InvalidParameterValue, match="already active"):
                modelyard.start_run()
            with modelyard.start_run(nested=True) as child:
                pass
        modelyard.log_param("auto", 1)  # no active run: one is started, as MLflow does
        auto = modelyard.active_run()
        assert auto is not None
        modelyard.end_run()
        with Client(url) as client:
            tags = {t.key: t.value for t in client.get_run(child.run_id).data.tags}
            assert tags["mlflow.parentRunId"] == parent.run_id
            assert client.get_run(auto.run_id).info.status == RunStatus.FINISHED


class TestFluentOnModelyard(FluentSuite):
    @pytest.fixture
    def url(self, live_server: ServerProcess) -> str:
        return live_server.url


class TestFluentOnStockMlflow(FluentSuite):
    @pytest.fixture
    def url(self, mlflow_server: str) -> str:
        return mlflow_server


# -- no server -------------------------------------------------------------------
def test_unreachable_server_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url) as client, pytest.raises(ServerUnreachable, match=url.replace(".", r"\.")):
        client.get_experiment("0")


def test_tracking_uri_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000/")
    assert modelyard.get_tracking_uri() == "http://mlflow.example:5000"
    monkeypatch.setenv("MODELYARD_TRACKING_URI", "http://modelyard.example:5000")
    assert modelyard.get_tracking_uri() == "http://modelyard.example:5000"
    with Client() as client:
        assert client.tracking_uri == "http://modelyard.example:5000"
    monkeypatch.setenv("MODELYARD_TRACKING_URI", "file:./mlruns")
    with pytest.raises(InvalidArgument, match="http"):
        Client()


def test_exit_flushes_metrics_and_ends_the_run(live_server: ServerProcess) -> None:
    """A script that never ends its run: atexit sends the queued metrics and
    ends the run FINISHED, as MLflow's fluent API does."""
    script = (
        "import modelyard\n"
        "run = modelyard.start_run()\n"
        "for i in range(1500):\n"
        "    modelyard.log_metric('loss', 1.0 / (i + 1), step=i)\n"
        "print(run.run_id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MODELYARD_TRACKING_URI": live_server.url},
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    with Client(live_server.url) as client:
        run_id = done.stdout.strip()
        assert client.get_run(run_id).info.status == RunStatus.FINISHED
        assert len(client.get_metric_history(run_id, "loss")) == 1500


def test_resume_a_run_by_id(live_server: ServerProcess, fluent_at: Any) -> None:
    fluent_at(live_server.url)
    with modelyard.start_run(run_name="first") as run:
        modelyard.log_metric("loss", 1.0, step=0)
    with modelyard.start_run(run_id=run.run_id) as resumed:
        assert resumed.info.status == RunStatus.RUNNING
        modelyard.log_metric("loss", 0.5, step=1)
    with Client(live_server.url) as client:
        assert [m.step for m in client.get_metric_history(run.run_id, "loss")] == [0, 1]
        assert client.get_run(run.run_id).info.status == RunStatus.FINISHED
