"""The tracking store contract: every metadata backend implements this.

It is deliberately storage-shaped (ids in, entities out); validation, defaults
and MLflow's rules live in `modelyard.service`. One shared test suite
(`tests/store/`) runs against every implementation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from modelyard.entities import (
    DatasetInput,
    Experiment,
    Metric,
    ModelIO,
    Page,
    Param,
    Run,
    RunInfo,
    Tag,
)
from modelyard.points_entities import (
    ChartSeries,
    HistoryCursor,
    MetricRow,
    PointsPage,
    RunPoints,
    RunValueColumns,
)
from modelyard.search_terms import Comparison, OrderKey


class TrackingStore(ABC):
    # -- experiments --------------------------------------------------------
    @abstractmethod
    def ensure_default_experiment(self, name: str, artifact_location: str, now: int) -> None:
        """Create experiment "0" unless it exists (safe when processes race)."""

    @abstractmethod
    def create_experiment(
        self,
        name: str,
        artifact_location: str | Callable[[str], str],
        tags: Sequence[Tag],
        now: int,
    ) -> str:
        """Create and return the new id. `artifact_location` may be a function
        of the new id (the default location depends on it), called inside the
        same transaction."""

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_experiment_untagged(self, experiment_id: str) -> Experiment:
        """The experiment without its tags (`tags` empty): for what needs only its
        stage or location, such as every runs/create (one statement fewer)."""
        return self.get_experiment(experiment_id)

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    @abstractmethod
    def search_experiments(
        self,
        view_type: str,
        max_results: int,
        filters: Sequence[Comparison],
        order_by: Sequence[OrderKey],
        offset: int,
    ) -> Page[Experiment]: ...

    @abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str, now: int) -> None: ...

    @abstractmethod
    def set_experiment_lifecycle(self, experiment_id: str, stage: str, now: int) -> None:
        """Delete/restore an experiment and, like MLflow, its runs with it."""

    @abstractmethod
    def set_experiment_tag(self, experiment_id: str, tag: Tag) -> None: ...

    @abstractmethod
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # -- runs ---------------------------------------------------------------
    @abstractmethod
    def create_run(self, info: RunInfo, tags: Sequence[Tag]) -> None: ...

    @abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abstractmethod
    def get_run_info(self, run_id: str) -> RunInfo: ...

    @abstractmethod
    def update_run_info(
        self, run_id: str, status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo: ...

    @abstractmethod
    def set_run_lifecycle(self, run_id: str, stage: str, now: int) -> None: ...

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[Tag],
    ) -> None:
        """All or nothing, into an existing active run (ResourceDoesNotExist /
        InvalidParameterValue otherwise, checked in the same transaction).
        Raises InvalidParameterValue when a param key exists with a different value."""

    @abstractmethod
    def log_batch_rows(
        self,
        run_id: str,
        metrics: Sequence[MetricRow],
        params: Sequence[Param],
        tags: Sequence[Tag],
    ) -> None:
        """`log_batch` with metrics as (key, value, timestamp, step) rows (the hot path)."""

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None: ...

    @abstractmethod
    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput], models: Sequence[ModelIO]
    ) -> None: ...

    @abstractmethod
    def append_json_tag(self, run_id: str, key: str, item: object, max_length: int) -> None:
        """Append `item` to the JSON list held in tag `key`, atomically."""

    @abstractmethod
    def log_outputs(self, run_id: str, models: Sequence[ModelIO]) -> None: ...

    @abstractmethod
    def search_run_infos(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison],
        view_type: str,
        max_results: int,
        order_by: Sequence[OrderKey],
        offset: int,
    ) -> Page[RunInfo]:
        """Like `search_runs` without params, metrics, tags and inputs."""

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison],
        view_type: str,
        max_results: int,
        order_by: Sequence[OrderKey],
        offset: int,
    ) -> Page[Run]: ...

    # -- metrics ------------------------------------------------------------
    @abstractmethod
    def get_metric_history(
        self, run_id: str, key: str, max_results: int | None, offset: int
    ) -> Page[Metric]: ...

    @abstractmethod
    def metric_points_for_runs(
        self, run_ids: Sequence[str], key: str, x: str
    ) -> dict[str, ChartSeries]:
        """Every non-NaN point of `key` per run as columns (xs, ys), x being the
        "step" or the "timestamp", sorted by x; runs without the metric are left
        out. For charts that overlay many runs in one read."""

    @abstractmethod
    def run_values(self, run_ids: Sequence[str]) -> RunValueColumns:
        """Each parameter and latest metric value of the runs, one list per key
        aligned with `run_ids`: what plots of one value per run need."""

    @abstractmethod
    def latest_metric_keys(self, run_ids: Sequence[str]) -> list[str]:
        """The metric keys any of the runs has logged, sorted."""

    @abstractmethod
    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[Metric]:
        """Sampled history per run, MLflow's `get-history-bulk-interval`."""

    @abstractmethod
    def get_metric_points(
        self, run_id: str, key: str, max_results: int | None, cursor: HistoryCursor
    ) -> PointsPage:
        """`get_metric_history` as plain rows, paged from `cursor` (keyset when it can)."""

    @abstractmethod
    def sample_metric_points(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[RunPoints]:
        """`get_metric_history_bulk_interval` as plain rows, one entry per run."""
