"""`Client`: tracking, registry and artifacts over MLflow's REST API.

Method names and arguments follow `mlflow.MlflowClient`, so code written for
MLflow's client reads the same here; answers are modelyard's entities
(`Run`, `Experiment`, `ModelVersion`, `RegisteredModel`, `HistoryEvent`),
and failures are the `modelyard.errors` classes the server's error codes name.

Everything in MLflow's namespace works against any MLflow-compatible server;
promotion history, stage holders and rollback are modelyard's own endpoints
(`/api/modelyard/v1/…`, see `modelyard.http.history`).

`log_metric` queues (see `batcher`); everything else is one synchronous call.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from modelyard.client import artifacts as art
from modelyard.client import manifests as manifests_wire
from modelyard.client import wire
from modelyard.client.approvals import ApprovalMethods
from modelyard.client.batcher import MetricBatcher
from modelyard.client.progress import Progress
from modelyard.client.rest import InvalidArgument, Json, Rest, encode_float
from modelyard.client.uris import ModelRef, canonical_stage, parse_model_ref, parse_runs_uri
from modelyard.client.webhooks import WebhookCalls
from modelyard.client.wire import FileInfo
from modelyard.entities import Experiment, Metric, Page, Param, Run, RunStatus, Tag, ViewType
from modelyard.errors import ResourceAlreadyExists, ResourceDoesNotExist
from modelyard.integrity_entities import Manifest, Verification
from modelyard.registry_entities import HistoryEvent, ModelVersion, RegisteredModel, StageHolder

# MLflow's log-batch limits (mlflow/utils/validation.py).
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def _tags_json(tags: Mapping[str, Any] | None) -> list[Json] | None:
    if not tags:
        return None
    return [{"key": str(k), "value": str(v)} for k, v in tags.items()]


def _metric_json(m: Metric) -> Json:
    return {"key": m.key, "value": encode_float(m.value), "timestamp": m.timestamp, "step": m.step}


def _page(answer: Json) -> str | None:
    return answer.get("next_page_token") or None


class Client(ApprovalMethods, WebhookCalls):
    """A connection to one tracking server.

    `tracking_uri` defaults to `modelyard.get_tracking_uri()` (the
    `MODELYARD_TRACKING_URI` / `MLFLOW_TRACKING_URI` variables). `transport`
    replaces httpx's network transport, e.g. to run the app in-process.
    Use as a context manager, or call `close()`, to flush queued metrics.
    """

    def __init__(
        self, tracking_uri: str | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.rest = Rest(tracking_uri, transport)
        self.tracking_uri = self.rest.tracking_uri
        self._metrics = MetricBatcher(self._send_metrics)
        self._artifact_uris: dict[str, str] = {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._metrics.close()
        finally:
            self.rest.close()

    def __repr__(self) -> str:
        return f"Client({self.tracking_uri!r})"

    # -- experiments -----------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        answer = self.rest.mlflow(
            "POST",
            "experiments/create",
            {"name": name, "artifact_location": artifact_location, "tags": _tags_json(tags)},
        )
        return str(answer["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        answer = self.rest.mlflow("GET", "experiments/get", {"experiment_id": experiment_id})
        return wire.experiment(answer["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            answer = self.rest.mlflow("GET", "experiments/get-by-name", {"experiment_name": name})
        except ResourceDoesNotExist:
            return None
        return wire.experiment(answer["experiment"])

    def search_experiments(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
        view_type: str = ViewType.ACTIVE_ONLY,
    ) -> Page[Experiment]:
        answer = self.rest.mlflow(
            "POST",
            "experiments/search",
            {
                "filter": filter_string or None,
                "max_results": max_results,
                "order_by": list(order_by or ()) or None,
                "page_token": page_token,
                "view_type": view_type,
            },
        )
        items = [wire.experiment(e) for e in answer.get("experiments") or ()]
        return Page(items, _page(answer))

    # -- runs ------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str = "0",
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        start_time: int | None = None,
    ) -> Run:
        all_tags = {"mlflow.user": _user(), **(tags or {})}
        if run_name:
            all_tags["mlflow.runName"] = run_name
        answer = self.rest.mlflow(
            "POST",
            "runs/create",
            {
                "experiment_id": experiment_id,
                "run_name": run_name,
                "start_time": start_time if start_time is not None else now_ms(),
                "user_id": all_tags["mlflow.user"],
                "tags": _tags_json(all_tags),
            },
        )
        run = wire.run(answer["run"])
        self._artifact_uris[run.info.run_id] = run.info.artifact_uri
        return run

    def get_run(self, run_id: str) -> Run:
        run = wire.run(self.rest.mlflow("GET", "runs/get", {"run_id": run_id})["run"])
        self._artifact_uris[run.info.run_id] = run.info.artifact_uri
        return run

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Page[Run]:
        """Runs matching MLflow's search grammar, e.g. `metrics.acc > 0.9 and
        params.lr = '0.1'`, ordered by e.g. `["metrics.acc DESC"]`."""
        answer = self.rest.mlflow(
            "POST",
            "runs/search",
            {
                "experiment_ids": list(experiment_ids),
                "filter": filter_string or None,
                "run_view_type": run_view_type,
                "max_results": max_results,
                "order_by": list(order_by or ()) or None,
                "page_token": page_token,
            },
        )
        return Page([wire.run(r) for r in answer.get("runs") or ()], _page(answer))

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """End a run. Its queued metrics are sent first; if that fails the run
        ends FAILED and the error is raised."""
        error: Exception | None = None
        try:
            self.flush(run_id)
        except Exception as exc:
            error, status = exc, RunStatus.FAILED
        self.rest.mlflow(
            "POST",
            "runs/update",
            {
                "run_id": run_id,
                "status": status,
                "end_time": end_time if end_time is not None else now_ms(),
            },
        )
        if error is not None:
            raise error

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Change a run's status (e.g. back to RUNNING to resume it) or name."""
        self.rest.mlflow(
            "POST", "runs/update", {"run_id": run_id, "status": status, "run_name": name}
        )

    def delete_run(self, run_id: str) -> None:
        self.rest.mlflow("POST", "runs/delete", {"run_id": run_id})

    # -- params, metrics, tags -------------------------------------------------
    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.rest.mlflow(
            "POST", "runs/log-parameter", {"run_id": run_id, "key": key, "value": str(value)}
        )

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.rest.mlflow(
            "POST", "runs/set-tag", {"run_id": run_id, "key": key, "value": str(value)}
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        self.rest.mlflow("POST", "runs/delete-tag", {"run_id": run_id, "key": key})

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Queue a metric; it is sent in the background (see `flush`)."""
        metric = Metric(
            key,
            float(value),
            timestamp if timestamp is not None else now_ms(),
            int(step or 0),
        )
        self._metrics.add(run_id, metric)

    def flush(self, run_id: str | None = None) -> None:
        """Wait until queued metrics are sent; raise an error met sending them."""
        self._metrics.flush(run_id)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        """Log synchronously, in as many log-batch calls as MLflow's limits need."""
        metrics, params, tags = list(metrics), list(params), list(tags)
        while metrics or params or tags:
            p, params = params[:MAX_PARAMS_PER_BATCH], params[MAX_PARAMS_PER_BATCH:]
            t, tags = tags[:MAX_TAGS_PER_BATCH], tags[MAX_TAGS_PER_BATCH:]
            room = MAX_ENTITIES_PER_BATCH - len(p) - len(t)
            m, metrics = metrics[:room], metrics[room:]
            self.rest.mlflow(
                "POST",
                "runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [_metric_json(x) for x in m],
                    "params": [{"key": x.key, "value": x.value} for x in p],
                    "tags": [{"key": x.key, "value": x.value} for x in t],
                },
            )

    def _send_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        self.log_batch(run_id, metrics=metrics)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        out: list[Metric] = []
        token: str | None = None
        while True:
            answer = self.rest.mlflow(
                "GET",
                "metrics/get-history",
                {"run_id": run_id, "metric_key": key, "page_token": token},
            )
            out.extend(wire.metric(m) for m in answer.get("metrics") or ())
            token = _page(answer)
            if not token:
                return out

    # -- artifacts -------------------------------------------------------------
    def _run_artifacts(self, run_id: str) -> art.ArtifactLocation:
        uri = self._artifact_uris.get(run_id) or self.get_run(run_id).info.artifact_uri
        return art.location(self.rest, uri)

    def log_artifact(
        self,
        run_id: str,
        local_path: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Upload one file as `<artifact_path>/<file name>` (streamed)."""
        src = Path(local_path)
        if not src.is_file():
            raise InvalidArgument(f"Not a file: {src}" + (" (use log_artifacts)" * src.is_dir()))
        rel = art.join(art.check_rel(artifact_path), src.name)
        art.upload(self._run_artifacts(run_id), [(src, rel)], progress, label=src.name)

    def log_artifacts(
        self,
        run_id: str,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Upload a directory's files under `artifact_path` (the run root by default)."""
        src = Path(local_dir)
        if not src.is_dir():
            raise InvalidArgument(f"Not a directory: {src}")
        prefix = art.check_rel(artifact_path)
        files = [(f, art.join(prefix, rel)) for f, rel in art.local_files(src)]
        art.upload(self._run_artifacts(run_id), files, progress, label=src.name or str(src))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """A run's artifacts directly under `path`, paths relative to the run root."""
        rel = art.check_rel(path)
        entries = self._run_artifacts(run_id).list(rel)
        return [FileInfo(art.join(rel, e.path), e.is_dir, e.file_size) for e in entries]

    def download_artifacts(
        self,
        run_id: str,
        path: str | None,
        dst_path: str | os.PathLike[str],
        progress: Progress | None = None,
    ) -> Path:
        """Download a run's file or folder (`path`, the root when empty) to `dst_path`."""
        rel = art.check_rel(path)
        label = rel or run_id
        return art.download(self._run_artifacts(run_id), rel, Path(dst_path), progress, label)

    # -- registered models -----------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        answer = self.rest.mlflow(
            "POST",
            "registered-models/create",
            {"name": name, "tags": _tags_json(tags), "description": description},
        )
        return wire.registered_model(answer["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        answer = self.rest.mlflow("GET", "registered-models/get", {"name": name})
        return wire.registered_model(answer["registered_model"])

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        answer = self.rest.mlflow(
            "GET",
            "registered-models/search",
            {
                "filter": filter_string or None,
                "max_results": max_results,
                "order_by": list(order_by or ()) or None,
                "page_token": page_token,
            },
        )
        items = [wire.registered_model(m) for m in answer.get("registered_models") or ()]
        return Page(items, _page(answer))

    def delete_registered_model(self, name: str) -> None:
        self.rest.mlflow("DELETE", "registered-models/delete", {"name": name})

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.rest.mlflow(
            "POST", "registered-models/set-tag", {"name": name, "key": key, "value": str(value)}
        )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.rest.mlflow("DELETE", "registered-models/delete-tag", {"name": name, "key": key})

    def get_latest_versions(
        self, name: str, stages: Iterable[str] | None = None
    ) -> list[ModelVersion]:
        """The newest version in each stage (each of `stages`, or all stages)."""
        wanted = [canonical_stage(s) for s in stages or ()]
        answer = self.rest.mlflow(
            "POST", "registered-models/get-latest-versions", {"name": name, "stages": wanted}
        )
        return [wire.model_version(v) for v in answer.get("model_versions") or ()]

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        self.rest.mlflow(
            "POST",
            "registered-models/alias",
            {"name": name, "alias": alias, "version": str(version)},
        )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.rest.mlflow("DELETE", "registered-models/alias", {"name": name, "alias": alias})

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        answer = self.rest.mlflow("GET", "registered-models/alias", {"name": name, "alias": alias})
        return wire.model_version(answer["model_version"])

    # -- model versions --------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        answer = self.rest.mlflow(
            "POST",
            "model-versions/create",
            {
                "name": name,
                "source": source,
                "run_id": run_id,
                "tags": _tags_json(tags),
                "description": description,
            },
        )
        return wire.model_version(answer["model_version"])

    def register_model(
        self, model_uri: str, name: str, tags: Mapping[str, Any] | None = None
    ) -> ModelVersion:
        """Register the files at `model_uri` (e.g. `runs:/<run_id>[/<path>]`) as a
        new version of `name`, creating the model when it does not exist."""
        with contextlib.suppress(ResourceAlreadyExists):
            self.create_registered_model(name)
        runs = parse_runs_uri(model_uri)
        if runs is not None:
            # The server accepts a runs:/ URI of a run it does not know when the
            # run_id agrees (as MLflow does: the run may live elsewhere); this
            # client registers runs of this server, so a missing one is an error
            # here, as in MLflow's own register_model.
            self.get_run(runs.run_id)
            # The seed's `run:/` spelling is sent as MLflow's `runs:/`.
            return self.create_model_version(name, str(runs), run_id=runs.run_id, tags=tags)
        return self.create_model_version(name, model_uri, tags=tags)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        answer = self.rest.mlflow(
            "GET", "model-versions/get", {"name": name, "version": str(version)}
        )
        return wire.model_version(answer["model_version"])

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        answer = self.rest.mlflow(
            "GET",
            "model-versions/search",
            {
                "filter": filter_string or None,
                "max_results": max_results,
                "order_by": list(order_by or ()) or None,
                "page_token": page_token,
            },
        )
        items = [wire.model_version(v) for v in answer.get("model_versions") or ()]
        return Page(items, _page(answer))

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        comment: str | None = None,
    ) -> ModelVersion:
        """Move a version to None/Staging/Production/Archived. The stage is sent
        as given: the server owns the rule (and the message for a bad stage).
        `comment` is kept in modelyard's promotion history; other servers ignore it."""
        answer = self.rest.mlflow(
            "POST",
            "model-versions/transition-stage",
            {
                "name": name,
                "version": str(version),
                "stage": stage,
                "archive_existing_versions": archive_existing_versions,
                "comment": comment,
            },
        )
        return wire.model_version(answer["model_version"])

    def delete_model_version(self, name: str, version: int | str) -> None:
        self.rest.mlflow("DELETE", "model-versions/delete", {"name": name, "version": str(version)})

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        self.rest.mlflow(
            "POST",
            "model-versions/set-tag",
            {"name": name, "version": str(version), "key": key, "value": str(value)},
        )

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self.rest.mlflow(
            "DELETE",
            "model-versions/delete-tag",
            {"name": name, "version": str(version), "key": key},
        )

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        answer = self.rest.mlflow(
            "GET", "model-versions/get-download-uri", {"name": name, "version": str(version)}
        )
        return str(answer["artifact_uri"])

    # -- promotion history (modelyard's endpoints) -----------------------------
    def get_model_history(
        self,
        name: str,
        version: int | str | None = None,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[HistoryEvent]:
        """The model's stage and alias events, newest first."""
        answer = self.rest.modelyard(
            "GET",
            "registered-models/history",
            {
                "name": name,
                "version": None if version is None else str(version),
                "max_results": max_results,
                "page_token": page_token,
            },
        )
        return Page([wire.history_event(e) for e in answer.get("events") or ()], _page(answer))

    def get_stage_holder(self, name: str, stage: str, at: int | None = None) -> StageHolder:
        """Which version held `stage` at time `at` (ms; now by default)."""
        answer = self.rest.modelyard(
            "GET", "registered-models/stage-holder", {"name": name, "stage": stage, "at": at}
        )
        return wire.stage_holder(answer)

    def rollback_model_stage(
        self, name: str, stage: str = "Production", comment: str | None = None
    ) -> ModelVersion:
        """Give `stage` back to the version that held it before the current one."""
        answer = self.rest.modelyard(
            "POST",
            "registered-models/rollback",
            {"name": name, "stage": stage, "comment": comment},
        )
        return wire.model_version(answer["model_version"])

    # -- frozen manifests (modelyard's endpoints) ----------------------------------
    def get_model_version_manifest(self, name: str, version: int | str) -> Manifest:
        """The files `version` (a number, stage or `@alias`) froze when it was registered."""
        answer = self.rest.modelyard(
            "GET", "model-versions/manifest", {"name": name, "version": str(version)}
        )
        return manifests_wire.manifest(answer["manifest"])

    def verify_model_version(self, name: str, version: int | str) -> Verification:
        """Have the server re-read the version's files and compare them with its manifest."""
        answer = self.rest.modelyard(
            "POST", "model-versions/verify", {"name": name, "version": str(version)}
        )
        return manifests_wire.verification(answer["verification"])

    # -- models:/ URIs ---------------------------------------------------------
    def resolve_model_version(self, model_uri: str | ModelRef) -> ModelVersion:
        """The version `models:/<name>/<version|stage|latest>` or `models:/<name>@<alias>` names."""
        ref = model_uri if isinstance(model_uri, ModelRef) else parse_model_ref(model_uri)
        if ref.alias is not None:
            return self.get_model_version_by_alias(ref.name, ref.alias)
        if ref.version is not None:
            return self.get_model_version(ref.name, ref.version)
        versions = self.get_latest_versions(ref.name, [ref.stage] if ref.stage else None)
        if not versions:
            where = f"in stage '{ref.stage}'" if ref.stage else "registered"
            raise ResourceDoesNotExist(f"Registered model '{ref.name}' has no version {where}.")
        return max(versions, key=lambda v: v.version)

    def download_model(
        self,
        model_uri: str | ModelRef,
        dst_path: str | os.PathLike[str],
        progress: Progress | None = None,
    ) -> Path:
        """Download a registered model version's files into `dst_path` (created
        as needed) and return it, e.g. `download_model('models:/mnist/Production', 'm')`."""
        return self.download_model_version(model_uri, dst_path, progress)[1]

    def download_model_version(
        self,
        model_uri: str | ModelRef,
        dst_path: str | os.PathLike[str],
        progress: Progress | None = None,
    ) -> tuple[ModelVersion, Path]:
        """`download_model`, also answering which version the URI resolved to."""
        version = self.resolve_model_version(model_uri)
        uri = self.get_model_version_download_uri(version.name, version.version)
        loc, rel = self._resolve_artifact_uri(uri)
        label = f"{version.name} v{version.version}"
        return version, art.download(loc, rel, Path(dst_path), progress, label)

    def download_artifact_uri(
        self,
        artifact_uri: str,
        dst_path: str | os.PathLike[str],
        progress: Progress | None = None,
    ) -> Path:
        """Download any artifact URI the client understands (runs:/, models:/,
        mlflow-artifacts:/, the proxied http(s) routes, local paths)."""
        loc, rel = self._resolve_artifact_uri(artifact_uri)
        return art.download(loc, rel, Path(dst_path), progress, artifact_uri)

    def _resolve_artifact_uri(self, uri: str, depth: int = 0) -> tuple[art.ArtifactLocation, str]:
        if depth > 5:
            raise InvalidArgument(f"Model source {uri!r} refers to itself")
        runs = parse_runs_uri(uri)
        if runs is not None:
            return self._run_artifacts(runs.run_id), art.check_rel(runs.path)
        if uri.startswith("models:"):
            spec = uri[len("models:") :].lstrip("/")
            if "/" not in spec and "@" not in spec:  # MLflow 3 logged model: models:/<model_id>
                answer = self.rest.mlflow("GET", f"logged-models/{spec}")
                return art.location(self.rest, answer["model"]["info"]["artifact_uri"]), ""
            mv = self.resolve_model_version(uri)
            inner = self.get_model_version_download_uri(mv.name, mv.version)
            return self._resolve_artifact_uri(inner, depth + 1)
        return art.location(self.rest, uri), ""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"
