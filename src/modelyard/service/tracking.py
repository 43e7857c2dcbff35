"""Tracking rules: experiments, runs, params, metrics, tags, inputs and outputs.

Everything that decides *whether* a request is valid lives here, so REST, UI
and CLI share one set of rules; the store only persists. Timestamps and ids
come from injected callables, so tests never sleep or guess.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from modelyard.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    ModelIO,
    Page,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    Tag,
    ViewType,
)
from modelyard.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from modelyard.points_entities import (
    ChartSeries,
    HistoryCursor,
    MetricRow,
    PointsPage,
    RunPoints,
    RunValueColumns,
)
from modelyard.service import search_filter as sf
from modelyard.service import validation as v
from modelyard.service.logged_model_metrics import ModelMetricRecorder
from modelyard.service.metric_history import decode_history_token, encode_history_token
from modelyard.service.names import random_run_name
from modelyard.store.dataset_summaries import DatasetSummary, DatasetSummaryStore
from modelyard.store.sql.db import UniqueViolation
from modelyard.store.tracking import TrackingStore

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
LOGGED_MODELS_TAG = "mlflow.log-model.history"
# MLflow's limits for the UI's get-history-bulk and search-datasets.
MAX_RUNS_HISTORY_BULK = 100
MAX_HISTORY_BULK_RESULTS = 25_000
MAX_EXPERIMENTS_SEARCH_DATASETS = 20
MAX_DATASET_SUMMARIES = 1000


def _view_type(value: str | None) -> str:
    if value in (None, ""):
        return ViewType.ACTIVE_ONLY
    upper = str(value).upper()
    if upper not in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        raise InvalidParameterValue(
            f"Invalid view type {value!r}: use ACTIVE_ONLY, DELETED_ONLY or ALL."
        )
    return upper


def resolve_local_uri(uri: str) -> str:
    """Relative local locations become absolute, against the server's working
    directory, as MLflow's `resolve_uri_if_local` does."""
    parts = urlsplit(uri)
    if parts.scheme == "" and not Path(uri).is_absolute():
        return (Path.cwd() / uri).as_posix()
    if parts.scheme == "file" and not parts.netloc and not parts.path.startswith("/"):
        return urlunsplit(("file", "", (Path.cwd() / parts.path).as_posix(), "", ""))
    return uri


def _validate_artifact_location(location: str) -> str:
    parts = urlsplit(location)
    if parts.fragment or ";" in parts.path:
        raise InvalidParameterValue("'artifact_location' URL can't include fragments or params.")
    if location.startswith("runs:"):
        raise InvalidParameterValue(
            f"Artifact location cannot be a runs:/ URI. Given: '{location}'"
        )
    if len(location) > 2048:
        raise InvalidParameterValue(
            "Invalid artifact path length. The length of the artifact path cannot be greater "
            "than 2048 characters."
        )
    return resolve_local_uri(location)


class TrackingService:
    def __init__(
        self,
        store: TrackingStore,
        *,
        artifact_root: str,
        clock: Callable[[], int],
        new_id: Callable[[], str],
        model_metrics: ModelMetricRecorder | None = None,
        dataset_summaries: DatasetSummaryStore | None = None,
    ) -> None:
        self.store = store
        # Records metrics that name a logged model (MLflow 3) on that model too.
        self.model_metrics = model_metrics
        self.dataset_summaries = dataset_summaries
        self.artifact_root = artifact_root.rstrip("/")
        self.clock = clock
        self.new_id = new_id

    # -- experiments --------------------------------------------------------
    def experiment_location(self, experiment_id: str) -> str:
        # "mlflow-artifacts:" + "/1" gives MLflow's "mlflow-artifacts:/1".
        return f"{self.artifact_root}/{experiment_id}"

    def ensure_default_experiment(self) -> None:
        self.store.ensure_default_experiment(
            DEFAULT_EXPERIMENT_NAME, self.experiment_location(DEFAULT_EXPERIMENT_ID), self.clock()
        )

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[Tag] = ()
    ) -> str:
        v.validate_experiment_name(name)
        for tag in tags:
            v.validate_experiment_tag(tag.key, tag.value)
        location: str | Callable[[str], str] = (
            _validate_artifact_location(artifact_location)
            if artifact_location
            else self.experiment_location
        )
        try:
            return self.store.create_experiment(name, location, tags, self.clock())
        except UniqueViolation:
            raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.") from None

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment:
        exp = self.store.get_experiment_by_name(name)
        if exp is None:
            raise ResourceDoesNotExist(f"Could not find experiment with name '{name}'")
        return exp

    def search_experiments(
        self,
        view_type: str | None = None,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
        visible: sf.Comparison | None = None,
    ) -> Page[Experiment]:
        """`visible`: the caller's readable experiments (services.access.visibility)."""
        limit = v.validate_max_results(
            max_results, v.SEARCH_MAX_RESULTS_DEFAULT, v.SEARCH_MAX_RESULTS_THRESHOLD
        )
        return self.store.search_experiments(
            _view_type(view_type),
            limit,
            [*sf.parse_experiment_filter(filter_string), *([visible] if visible else [])],
            sf.parse_experiment_order_by(list(order_by)),
            sf.decode_page_token(page_token),
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        v.validate_experiment_name(new_name)
        try:
            self.store.rename_experiment(experiment_id, new_name, self.clock())
        except UniqueViolation:
            raise ResourceAlreadyExists(f"Experiment(name={new_name}) already exists.") from None

    def delete_experiment(self, experiment_id: str) -> None:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            # MLflow refuses this too: clients fall back to experiment 0.
            raise InvalidParameterValue(
                "Cannot delete the default experiment "
                f"'{DEFAULT_EXPERIMENT_ID}'. This is an internally reserved experiment."
            )
        self.store.set_experiment_lifecycle(experiment_id, LifecycleStage.DELETED, self.clock())

    def restore_experiment(self, experiment_id: str) -> None:
        self.store.set_experiment_lifecycle(experiment_id, LifecycleStage.ACTIVE, self.clock())

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        v.validate_experiment_tag(key, value)
        self._active_experiment(experiment_id)
        self.store.set_experiment_tag(experiment_id, Tag(key, value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._active_experiment(experiment_id)
        self.store.delete_experiment_tag(experiment_id, key)

    def _active_experiment(self, experiment_id: str) -> Experiment:
        """The experiment (without tags) when it is active."""
        exp = self.store.get_experiment_untagged(experiment_id)
        if exp.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameterValue(
                f"The experiment {experiment_id} must be in the 'active' state. "
                f"Current state is {exp.lifecycle_stage}."
            )
        return exp

    # -- runs ---------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str | None,
        user_id: str | None = None,
        start_time: int | None = None,
        run_name: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> Run:
        exp = self._active_experiment(experiment_id or DEFAULT_EXPERIMENT_ID)
        for i, tag in enumerate(tags):
            v.validate_tag(tag.key, tag.value, f"tags[{i}]")
        tag_name = next((t.value for t in tags if t.key == RUN_NAME_TAG), None)
        if run_name and tag_name and run_name != tag_name:
            raise InvalidParameterValue(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', mlflow.runName='{tag_name}')."
            )
        name = run_name or tag_name or random_run_name()
        all_tags = list(tags)
        if tag_name is None:
            all_tags.append(Tag(RUN_NAME_TAG, name))
        run_id = self.new_id()
        info = RunInfo(
            run_id=run_id,
            experiment_id=exp.experiment_id,
            run_name=name,
            user_id=user_id or "",
            status=RunStatus.RUNNING,
            start_time=start_time if start_time is not None else self.clock(),
            end_time=None,
            artifact_uri=f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts",
            lifecycle_stage=LifecycleStage.ACTIVE,
        )
        stored_tags = _dedupe_tags(all_tags)
        self.store.create_run(info, stored_tags)
        # Everything a new run holds is known here: answering from it saves reading
        # the run back (nine statements of a runs/create's sixteen). Tags in key
        # order, as a read gives them.
        return Run(info, RunData(tags=tuple(sorted(stored_tags, key=lambda t: t.key))))

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(run_id)

    def get_run_info(self, run_id: str) -> RunInfo:
        return self.store.get_run_info(run_id)

    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        if status is not None and status not in RunStatus.ALL:
            raise InvalidParameterValue(
                f"Invalid run status {status!r}: use one of {', '.join(RunStatus.ALL)}."
            )
        self._active_run(run_id)
        return self.store.update_run_info(run_id, status, end_time, run_name or None)

    def delete_run(self, run_id: str) -> None:
        self.store.get_run_info(run_id)
        self.store.set_run_lifecycle(run_id, LifecycleStage.DELETED, self.clock())

    def restore_run(self, run_id: str) -> None:
        self.store.get_run_info(run_id)
        self.store.set_run_lifecycle(run_id, LifecycleStage.ACTIVE, self.clock())

    def _active_run(self, run_id: str) -> RunInfo:
        info = self.store.get_run_info(run_id)
        if info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidParameterValue(
                f"The run {run_id} must be in the 'active' state. "
                f"Current state is {info.lifecycle_stage}."
            )
        return info

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
        *,
        single: bool = False,
    ) -> None:
        """Validate everything first, then write all of it in one transaction."""
        self.log_batch_rows(
            run_id,
            [(m.key, m.value, m.timestamp, m.step) for m in metrics],
            params,
            tags,
            single=single,
            model_metrics=[m for m in metrics if m.model_id or m.dataset_name],
        )

    def log_batch_rows(
        self,
        run_id: str,
        rows: Sequence[MetricRow] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
        *,
        single: bool = False,
        model_metrics: Sequence[Metric] = (),
    ) -> None:
        """log-batch's hot path: metrics as (key, value, timestamp, step) rows.

        `model_metrics` are the metrics of the batch that name a logged model or
        a dataset (also among `rows`); those naming a model are checked before
        and recorded against it after the run's write (`ModelMetricRecorder`).
        """
        v.validate_batch_limits(len(rows), len(params), len(tags))
        v.validate_metric_rows(rows, single)
        for i, p in enumerate(params):
            v.validate_param(p.key, p.value, "" if single else f"params[{i}]")
        for i, t in enumerate(tags):
            v.validate_tag(t.key, t.value, "" if single else f"tags[{i}]")
        v.validate_unique_param_keys([p.key for p in params])
        recorder = self.model_metrics
        model_points = (
            recorder.points(model_metrics) if recorder is not None and model_metrics else ()
        )
        # The store checks that the run exists and is active inside its write
        # transaction: one round trip fewer, and no delete can slip in between.
        self.store.log_batch_rows(run_id, rows, params, _dedupe_tags(tags))
        if model_points and recorder is not None:
            recorder.record(run_id, model_points)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric], single=True)

    def log_param(self, run_id: str, key: str, value: str) -> None:
        self.log_batch(run_id, params=[Param(key, value)], single=True)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.log_batch(run_id, tags=[Tag(key, value)], single=True)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._active_run(run_id)
        self.store.delete_tag(run_id, key)

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput], models: Sequence[ModelIO] = ()
    ) -> None:
        for di in datasets:
            ds = di.dataset
            for what, value, limit in (
                ("name", ds.name, v.MAX_DATASET_NAME_SIZE),
                ("digest", ds.digest, v.MAX_DATASET_DIGEST_SIZE),
                ("source", ds.source, v.MAX_DATASET_SOURCE_SIZE),
                ("schema", ds.schema, v.MAX_DATASET_SCHEMA_SIZE),
                ("profile", ds.profile, v.MAX_DATASET_PROFILE_SIZE),
            ):
                if what in ("name", "digest") and not value:
                    raise InvalidParameterValue(f"Dataset {what} cannot be None")
                if value is not None and len(value) > limit:
                    raise InvalidParameterValue(
                        f"Dataset {what} exceeds the maximum length of {limit}"
                    )
            if not ds.source_type:
                raise InvalidParameterValue("Dataset source_type cannot be None")
            for tag in di.tags:
                if len(tag.key) > v.MAX_INPUT_TAG_KEY_SIZE:
                    raise InvalidParameterValue(
                        f"Input tag key exceeds the maximum length of {v.MAX_INPUT_TAG_KEY_SIZE}"
                    )
                if len(tag.value) > v.MAX_INPUT_TAG_VALUE_SIZE:
                    raise InvalidParameterValue(
                        "Input tag value exceeds the maximum length of "
                        f"{v.MAX_INPUT_TAG_VALUE_SIZE}"
                    )
        self._active_run(run_id)
        self.store.log_inputs(run_id, datasets, models)

    def record_logged_model(self, run_id: str, model_json: str) -> None:
        """MLflow's deprecated runs/log-model: append the model's summary to the
        run's `mlflow.log-model.history` tag, as older clients expect."""
        try:
            model = json.loads(model_json)
        except ValueError:
            raise InvalidParameterValue(
                f"Malformed model info. \n {model_json} \n is not a valid JSON."
            ) from None
        if not isinstance(model, dict):
            raise InvalidParameterValue("Model json must be a JSON object.")
        missing = {"artifact_path", "flavors", "utc_time_created", "run_id"} - set(model)
        if missing:
            raise InvalidParameterValue(f"Model json is missing mandatory fields: {missing}")
        summary = {
            k: model[k]
            for k in ("run_id", "utc_time_created", "artifact_path", "model_uuid")
            if k in model
        }
        flavors = model.get("flavors") or {}
        summary["flavors"] = {
            name: {k: v for k, v in conf.items() if k != "config"}
            if isinstance(conf, dict)
            else conf
            for name, conf in (flavors.items() if isinstance(flavors, dict) else ())
        }
        self._active_run(run_id)
        self.store.append_json_tag(run_id, LOGGED_MODELS_TAG, summary, v.MAX_TAG_VAL_LENGTH)

    def log_outputs(self, run_id: str, models: Sequence[ModelIO]) -> None:
        self._active_run(run_id)
        self.store.log_outputs(run_id, models)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        args = self._search_args(
            experiment_ids, filter_string, view_type, max_results, order_by, page_token
        )
        return self.store.search_runs(*args) if args else Page([], None)

    def search_run_infos(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RunInfo]:
        """`search_runs` for callers that need only the runs' infos (cheaper)."""
        args = self._search_args(
            experiment_ids, filter_string, view_type, max_results, order_by, page_token
        )
        return self.store.search_run_infos(*args) if args else Page([], None)

    def _search_args(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        view_type: str | None,
        max_results: int | None,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> tuple[Any, ...] | None:
        limit = v.validate_max_results(
            max_results, v.SEARCH_MAX_RESULTS_DEFAULT, v.SEARCH_MAX_RESULTS_THRESHOLD
        )
        for exp_id in experiment_ids:
            v.parse_experiment_id(exp_id)
        if not experiment_ids:
            return None
        return (
            experiment_ids,
            sf.parse_run_filter(filter_string),
            _view_type(view_type),
            limit,
            sf.parse_run_order_by(list(order_by)),
            sf.decode_page_token(page_token),
        )

    # -- metric history -------------------------------------------------------
    def get_metric_history(
        self, run_id: str, key: str, max_results: int | None = None, page_token: str | None = None
    ) -> Page[Metric]:
        page, token = self.get_metric_points(run_id, key, max_results, page_token)
        return Page(
            [
                Metric(key, math.nan if nan else value, ts, step)
                for value, ts, step, nan in page.rows
            ],
            token,
        )

    def get_metric_points(
        self, run_id: str, key: str, max_results: int | None = None, page_token: str | None = None
    ) -> tuple[PointsPage, str | None]:
        """One page of a metric's history as plain rows, and the next page's token."""
        if max_results is not None and max_results <= 0:
            raise InvalidParameterValue(
                f"Invalid value {max_results} for parameter 'max_results' supplied. "
                "It must be a positive integer."
            )
        cursor = decode_history_token(page_token)
        self.store.get_run_info(run_id)
        page = self.store.get_metric_points(run_id, key, max_results, cursor)
        return page, None if page.next is None else encode_history_token(page.next)

    def metric_points_for_runs(
        self, run_ids: Sequence[str], key: str, x: str = "step"
    ) -> dict[str, ChartSeries]:
        """Every non-NaN point of `key` per run as (xs, ys), x being the "step" or
        the "timestamp", for charts overlaying many runs (the UI downsamples them).
        Runs are not checked one by one: callers pass ids a search just returned."""
        if not key:
            raise InvalidParameterValue("Missing value for required parameter 'key'.")
        if x not in ("step", "timestamp"):
            raise InvalidParameterValue(f"x must be 'step' or 'timestamp', got {x!r}.")
        return self.store.metric_points_for_runs(run_ids, key, x)

    def run_values(self, run_ids: Sequence[str]) -> RunValueColumns:
        """Per parameter and metric key, the runs' values (a metric's latest)
        aligned with `run_ids`, for plots of one value per run. Like
        `metric_points_for_runs`, runs are not checked one by one: callers pass
        ids a search just returned."""
        return self.store.run_values(run_ids)

    def latest_metric_keys(self, run_ids: Sequence[str]) -> list[str]:
        return self.store.latest_metric_keys(run_ids)

    def get_metric_history_bulk(
        self, run_ids: Sequence[str], key: str | None, max_results: int | None = None
    ) -> list[Metric]:
        """The MLflow UI's get-history-bulk: every point of `key` in each run, by
        run id, then timestamp, step and value; runs not found are left out."""
        if not run_ids:
            raise InvalidParameterValue(
                "GetMetricHistoryBulk request must specify at least one run_id."
            )
        if len(run_ids) > MAX_RUNS_HISTORY_BULK:
            raise InvalidParameterValue(
                f"GetMetricHistoryBulk request cannot specify more than {MAX_RUNS_HISTORY_BULK}"
                f" run_ids. Received {len(run_ids)} run_ids."
            )
        if key is None:
            raise InvalidParameterValue("GetMetricHistoryBulk request must specify a metric_key.")
        if max_results is not None and max_results <= 0:
            raise v.invalid_value("max_results", max_results, "It must be a positive integer.")
        limit = min(max_results or MAX_HISTORY_BULK_RESULTS, MAX_HISTORY_BULK_RESULTS)
        out: list[Metric] = []
        for run_id in sorted(set(run_ids)):
            try:
                self.store.get_run_info(run_id)
            except ResourceDoesNotExist:
                continue
            # One page in MLflow's order (timestamp, step, value): `limit` bounds it.
            page = self.store.get_metric_points(run_id, key, limit, HistoryCursor())
            points = [
                Metric(key, math.nan if nan else value, ts, step, run_id=run_id)
                for value, ts, step, nan in page.rows
            ]
            out.extend(points)
            if len(out) >= limit:
                break
        return out[:limit]

    def search_dataset_summaries(self, experiment_ids: Sequence[str]) -> list[DatasetSummary]:
        """MLflow's search-datasets: which datasets the experiments' runs used."""
        if not experiment_ids:
            raise InvalidParameterValue(
                "SearchDatasets request must specify at least one experiment_id."
            )
        if len(experiment_ids) > MAX_EXPERIMENTS_SEARCH_DATASETS:
            raise InvalidParameterValue(
                "SearchDatasets request cannot specify more than "
                f"{MAX_EXPERIMENTS_SEARCH_DATASETS} experiment_ids. "
                f"Received {len(experiment_ids)} experiment_ids."
            )
        ids = [int(v.parse_experiment_id(e)) for e in experiment_ids]
        if self.dataset_summaries is None:
            return []
        return self.dataset_summaries.search_dataset_summaries(ids, MAX_DATASET_SUMMARIES)

    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None = None,
        end_step: int | None = None,
        max_results: int | None = None,
    ) -> list[RunPoints]:
        if not run_ids:
            raise InvalidParameterValue("Missing value for required parameter 'run_ids'.")
        if len(run_ids) > v.MAX_RUNS_GET_METRIC_HISTORY_BULK:
            raise InvalidParameterValue(
                "GetMetricHistoryBulkInterval request must specify at most "
                f"{v.MAX_RUNS_GET_METRIC_HISTORY_BULK} run_ids. Received {len(run_ids)} run_ids."
            )
        n = v.MAX_RESULTS_PER_RUN if max_results is None else max_results
        if not 1 <= n <= v.MAX_RESULTS_PER_RUN:
            raise InvalidParameterValue(
                f"max_results must be between 1 and {v.MAX_RESULTS_PER_RUN}."
            )
        if (start_step is None) != (end_step is None):
            raise InvalidParameterValue(
                "If either start step or end step are specified, both must be specified."
            )
        if start_step is not None and end_step is not None and start_step > end_step:
            raise InvalidParameterValue(
                "end_step must be greater than start_step. "
                f"Found start_step={start_step} and end_step={end_step}."
            )
        for run_id in run_ids:
            self.store.get_run_info(run_id)
        return self.store.sample_metric_points(run_ids, key, start_step, end_step, n)


def _dedupe_tags(tags: Sequence[Tag]) -> list[Tag]:
    """Last value wins for a key repeated in one request (MLflow keeps the last too)."""
    by_key: dict[str, Tag] = {}
    for tag in tags:
        by_key[tag.key] = tag
    return list(by_key.values())
