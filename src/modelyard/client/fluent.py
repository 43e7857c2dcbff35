"""The fluent API, in the seed's shape: `start_run`, `log_*`, `register_model`.

```python
import modelyard

modelyard.set_tracking_uri("http://127.0.0.1:5000")   # or MODELYARD_TRACKING_URI
with modelyard.start_run() as run:
    modelyard.log_params({"lr": 0.01})
    for step in range(100):
        modelyard.log_metric("loss", 1 / (step + 1), step=step)   # queued, never waits
    modelyard.log_artifacts("output_model")
    mv = modelyard.register_model(f"runs:/{run.info.run_id}", "mnist_test")
```

One process-wide `Client` (for the current tracking URI) and a stack of
active runs, as in MLflow: `log_*` with no active run starts one. Leaving the
`with` block ends the run FINISHED, or FAILED when the block raised (KILLED on
Ctrl-C); queued metrics are sent first, and an error sending them ends the
run FAILED and is raised there. At interpreter exit, queued metrics are sent
and runs still active are ended FINISHED, as MLflow does.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from modelyard.client import rest
from modelyard.client.client import Client
from modelyard.entities import Experiment, Param, Run, RunData, RunInfo, RunStatus, Tag
from modelyard.errors import InvalidParameterValue
from modelyard.registry_entities import ModelVersion

_lock = threading.RLock()
_client: Client | None = None
_active: list[ActiveRun] = []
_experiment_id: str | None = None


class ActiveRun:
    """The run `start_run` began; a context manager that ends it."""

    def __init__(self, run: Run) -> None:
        self.info: RunInfo = run.info
        self.data: RunData = run.data

    @property
    def run_id(self) -> str:
        return self.info.run_id

    def __repr__(self) -> str:
        return f"<ActiveRun run_id={self.run_id!r} experiment_id={self.info.experiment_id!r}>"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            end_run(RunStatus.FINISHED, run_id=self.run_id)
            return
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        try:
            end_run(status, run_id=self.run_id)
        except Exception as also:  # the block's own error is the one to see
            exc.add_note(f"modelyard: while ending run {self.run_id}: {also}")


def set_tracking_uri(uri: str | None) -> None:
    """Talk to `uri` from now on (None: back to MODELYARD_/MLFLOW_TRACKING_URI)."""
    global _client
    with _lock:
        rest.set_tracking_uri(uri)
        old, _client = _client, None
    if old is not None:
        old.close()


def get_tracking_uri() -> str:
    return rest.get_tracking_uri()


def client() -> Client:
    """The process-wide client of the fluent API."""
    global _client
    with _lock:
        if _client is None or _client.tracking_uri != rest.get_tracking_uri():
            _client = Client()
        return _client


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Use this experiment for new runs, creating it by name when it does not exist."""
    global _experiment_id
    c = client()
    if experiment_id is not None:
        exp = c.get_experiment(experiment_id)
    elif experiment_name:
        found = c.get_experiment_by_name(experiment_name)
        exp = found or c.get_experiment(c.create_experiment(experiment_name))
    else:
        raise InvalidParameterValue("set_experiment needs an experiment_name or experiment_id")
    _experiment_id = exp.experiment_id
    return exp


def _default_experiment_id(c: Client) -> str:
    if _experiment_id is not None:
        return _experiment_id
    if os.environ.get("MLFLOW_EXPERIMENT_ID"):
        return os.environ["MLFLOW_EXPERIMENT_ID"]
    if os.environ.get("MLFLOW_EXPERIMENT_NAME"):
        return set_experiment(os.environ["MLFLOW_EXPERIMENT_NAME"]).experiment_id
    return "0"


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
) -> ActiveRun:
    """Start a run (or resume `run_id`) and make it the active run."""
    c = client()
    with _lock:
        if _active and not nested:
            raise InvalidParameterValue(
                f"Run {_active[-1].run_id} is already active. End it with end_run(), "
                "or start this one with nested=True."
            )
        if run_id is not None:
            run = c.get_run(run_id)
            if run.info.status != RunStatus.RUNNING:
                c.update_run(run_id, status=RunStatus.RUNNING)
                run = c.get_run(run_id)
        else:
            all_tags: dict[str, Any] = {
                "mlflow.source.name": sys.argv[0] if sys.argv and sys.argv[0] else "<console>",
                "mlflow.source.type": "LOCAL",
                **(tags or {}),
            }
            if _active:
                all_tags["mlflow.parentRunId"] = _active[-1].run_id
            run = c.create_run(
                experiment_id or _default_experiment_id(c), run_name=run_name, tags=all_tags
            )
        active = ActiveRun(run)
        _active.append(active)
        return active


def active_run() -> ActiveRun | None:
    with _lock:
        return _active[-1] if _active else None


def end_run(status: str = RunStatus.FINISHED, run_id: str | None = None) -> None:
    """End the active run (or `run_id`, which must be active). Its queued metrics
    are sent first; if that fails the run ends FAILED and the error is raised."""
    with _lock:
        if not _active:
            return
        if run_id is None:
            ended = _active.pop()
        else:
            matches = [r for r in _active if r.run_id == run_id]
            if not matches:
                return
            ended = matches[-1]
            _active.remove(ended)
    client().set_terminated(ended.run_id, status)


def _run_id() -> str:
    run = active_run()
    return (run or start_run()).run_id


def log_param(key: str, value: Any) -> None:
    client().log_param(_run_id(), key, value)


def log_params(params: Mapping[str, Any]) -> None:
    client().log_batch(_run_id(), params=[Param(str(k), str(v)) for k, v in params.items()])


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Queue a metric for the active run; it is sent in the background."""
    client().log_metric(_run_id(), key, value, step=step, timestamp=timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    c, run_id = client(), _run_id()
    for key, value in metrics.items():
        c.log_metric(run_id, key, value, step=step)


def set_tag(key: str, value: Any) -> None:
    client().set_tag(_run_id(), key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    client().log_batch(_run_id(), tags=[Tag(str(k), str(v)) for k, v in tags.items()])


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    client().log_artifact(_run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    client().log_artifacts(_run_id(), local_dir, artifact_path)


def register_model(
    model_uri: str, name: str, tags: Mapping[str, Any] | None = None
) -> ModelVersion:
    """Register `runs:/<run_id>[/<path>]` as a new version of `name` (created when new)."""
    return client().register_model(model_uri, name, tags=tags)


def _end_runs_at_exit() -> None:
    while True:
        run = active_run()
        if run is None:
            return
        try:
            end_run(RunStatus.FINISHED, run_id=run.run_id)
        except Exception as exc:
            print(f"modelyard: ending run {run.run_id} at exit: {exc}", file=sys.stderr)


# Registered after the batcher's own handler, so it runs first (atexit is LIFO).
atexit.register(_end_runs_at_exit)

__all__ = [
    "ActiveRun",
    "active_run",
    "client",
    "end_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "register_model",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
