"""The client's parts that need no server: import cost, URI parsing, the metric
batcher, output formatting, the progress bar, error translation."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading

import httpx
import pytest

from modelyard.cli_output import jsonable, table
from modelyard.client import InvalidArgument, ModelRef, parse_model_ref
from modelyard.client.batcher import MAX_METRICS_PER_BATCH, MetricBatcher
from modelyard.client.progress import ProgressBar
from modelyard.client.rest import error_from_response
from modelyard.client.uris import RunsUri, parse_runs_uri
from modelyard.entities import Metric
from modelyard.errors import EndpointNotFound, InvalidParameterValue, ResourceDoesNotExist

SERVER_STACK = ("starlette", "uvicorn", "psycopg", "psycopg_pool", "orjson", "jinja2")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return {m.split(".")[0] for m in json.loads(out.splitlines()[-1])}


def test_import_modelyard_is_cheap() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import modelyard"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
    assert "modelyard" in imported
    assert not imported & {*SERVER_STACK, "httpx"}


def test_client_and_cli_do_not_import_the_server_stack() -> None:
    assert not _loaded_after("import modelyard; modelyard.Client; modelyard.start_run") & set(
        SERVER_STACK
    )
    # Building the whole parser (what `modelyard --help` does) loads neither side.
    loaded = _loaded_after("from modelyard.cli import build_parser; build_parser()")
    assert not loaded & {*SERVER_STACK, "httpx"}


def test_lazy_names() -> None:
    import modelyard

    assert modelyard.Client is __import__("modelyard.client").client.Client
    assert "start_run" in dir(modelyard)
    with pytest.raises(AttributeError):
        _ = modelyard.no_such_name


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        ("models:/mnist/3", ModelRef("mnist", version=3)),
        ("models:/mnist/production", ModelRef("mnist", stage="Production")),
        ("models:/mnist/None", ModelRef("mnist", stage="None")),
        ("models:/mnist/Latest", ModelRef("mnist")),
        ("models:/mnist@champion", ModelRef("mnist", alias="champion")),
        ("models:/team/mnist/Staging", ModelRef("team/mnist", stage="Staging")),
        ("mnist/2", ModelRef("mnist", version=2)),
        ("mnist@prod", ModelRef("mnist", alias="prod")),
    ],
)
def test_model_uris(uri: str, ref: ModelRef) -> None:
    assert parse_model_ref(uri) == ref


@pytest.mark.parametrize(
    "uri", ["models:/", "models:/mnist", "models:/mnist/Prod", "models:/@x", "models:/m@", "/3"]
)
def test_bad_model_uris(uri: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_model_ref(uri)


def test_bare_name_is_latest_for_the_cli() -> None:
    assert parse_model_ref("mnist", bare_is_latest=True) == ModelRef("mnist")
    assert str(ModelRef("mnist", stage="Staging")) == "models:/mnist/Staging"


def test_runs_uris() -> None:
    assert parse_runs_uri("runs:/abc") == RunsUri("abc", "")
    assert parse_runs_uri("runs:/abc/model/data/") == RunsUri("abc", "model/data")
    assert str(parse_runs_uri("run:/abc/m")) == "runs:/abc/m"  # the seed's spelling
    assert parse_runs_uri("models:/m/1") is None
    with pytest.raises(InvalidArgument):
        parse_runs_uri("runs:/")


class Recorder:
    """A `send` that records batches; can fail for one run, and signal each call."""

    def __init__(self, fail_run: str | None = None) -> None:
        self.batches: list[tuple[str, list[Metric]]] = []
        self.fail_run = fail_run
        self.sent = threading.Event()

    def __call__(self, run_id: str, metrics: list[Metric]) -> None:
        self.batches.append((run_id, list(metrics)))
        self.sent.set()
        if run_id == self.fail_run:
            raise InvalidParameterValue(f"bad metric for {run_id}")


def _m(i: int) -> Metric:
    return Metric("loss", float(i), 1000 + i, i)


def test_batcher_splits_by_run_and_limit() -> None:
    send = Recorder()
    batcher = MetricBatcher(send, interval=3600)  # only a full batch or a flush sends
    for i in range(2500):
        batcher.add("a", _m(i))
    batcher.add("b", _m(0))
    batcher.flush()
    sizes = [(run, len(ms)) for run, ms in send.batches]
    assert sizes == [("a", 1000), ("a", 1000), ("a", 500), ("b", 1)]
    assert [m.step for _, ms in send.batches[:3] for m in ms] == list(range(2500))
    batcher.close()


def test_batcher_sends_a_full_batch_without_being_asked() -> None:
    send = Recorder()
    batcher = MetricBatcher(send, interval=3600)
    for i in range(MAX_METRICS_PER_BATCH):
        batcher.add("a", _m(i))
    assert send.sent.wait(timeout=30)  # no flush: the full batch woke the sender
    assert len(send.batches[0][1]) == MAX_METRICS_PER_BATCH
    batcher.close()


def test_batcher_errors_surface_once_for_their_run() -> None:
    send = Recorder(fail_run="bad")
    batcher = MetricBatcher(send, interval=3600)
    batcher.add("bad", _m(1))
    batcher.add("good", _m(2))
    batcher.flush("good")  # another run's error is not this run's
    with pytest.raises(InvalidParameterValue, match="bad metric"):
        batcher.flush("bad")
    batcher.flush("bad")  # raised once
    batcher.close()
    with pytest.raises(RuntimeError):
        batcher.add("x", _m(1))


def test_batcher_applies_backpressure_instead_of_growing() -> None:
    release = threading.Event()

    def slow(run_id: str, metrics: list[Metric]) -> None:
        release.wait(timeout=30)

    batcher = MetricBatcher(slow, max_batch=10, max_queued=20, interval=3600)
    for i in range(30):  # the sender holds 10, the queue 20
        batcher.add("a", _m(i))
    blocked = threading.Thread(target=batcher.add, args=("a", _m(99)), daemon=True)
    blocked.start()
    blocked.join(timeout=0.2)
    assert blocked.is_alive()  # waiting for room
    release.set()
    blocked.join(timeout=30)
    assert not blocked.is_alive()
    batcher.close()


def test_table_and_json_output() -> None:
    assert table(["A", "LONGER"], [(1, None), ("wide-cell", "x")]) == (
        "A          LONGER\n1          -\nwide-cell  x"
    )
    assert jsonable({"v": (float("nan"), float("-inf"), ModelRef("m", version=1))}) == {
        "v": ["NaN", "-Infinity", {"name": "m", "version": 1, "stage": None, "alias": None}]
    }


def test_progress_bar() -> None:
    out = io.StringIO()
    bar = ProgressBar(out)
    bar.begin(2048, "model")
    bar.advance(1024)
    bar.advance(1024)
    bar.end()
    assert out.getvalue().endswith("\n")
    last = out.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("model [########################] 100%  2.0 KiB / 2.0 KiB")


def _response(status: int, content: bytes, content_type: str) -> httpx.Response:
    request = httpx.Request("GET", "http://h/api/2.0/mlflow/x")
    return httpx.Response(
        status, content=content, headers={"content-type": content_type}, request=request
    )


def test_errors_from_responses() -> None:
    body = b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no model m"}'
    err = error_from_response(_response(404, body, "application/json"))
    assert isinstance(err, ResourceDoesNotExist) and err.message == "no model m"
    err = error_from_response(_response(404, b"<html>Not Found</html>", "text/html"))
    assert isinstance(err, EndpointNotFound)
    assert err.message == "GET http://h/api/2.0/mlflow/x answered HTTP 404"
    err = error_from_response(_response(503, b"artifact serving is off", "text/plain"))
    assert err.code == "TEMPORARILY_UNAVAILABLE" and "artifact serving is off" in err.message
