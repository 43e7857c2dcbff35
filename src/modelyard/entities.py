"""Domain entities: frozen dataclasses that know nothing of JSON or SQL.

Times are integer milliseconds since the epoch, as MLflow stores them. Ids are
strings on the wire; experiment ids are integers in storage and strings here,
because every MLflow API and client treats them as opaque strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


class RunStatus:
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


class ViewType:
    """MLflow's run_view_type / view_type values."""

    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    @staticmethod
    def stages(view: str) -> tuple[str, ...]:
        if view == ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        if view == ViewType.ALL:
            return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)
        return (LifecycleStage.ACTIVE,)


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int
    # MLflow 3 attaches metrics to logged models and datasets as well; these
    # are carried through when a client sends them and echoed back.
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetInput:
    dataset: Dataset
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelIO:
    """A logged model used by (input) or produced by (output, with step) a run."""

    model_id: str
    step: int | None = None


@dataclass(frozen=True, slots=True)
class RunData:
    metrics: tuple[Metric, ...] = ()
    params: tuple[Param, ...] = ()
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class RunInputs:
    dataset_inputs: tuple[DatasetInput, ...] = ()
    model_inputs: tuple[ModelIO, ...] = ()


@dataclass(frozen=True, slots=True)
class RunOutputs:
    model_outputs: tuple[ModelIO, ...] = ()


@dataclass(frozen=True, slots=True)
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)
    outputs: RunOutputs = field(default_factory=RunOutputs)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a paginated listing; `next_page_token` is None on the last."""

    items: list[T]
    next_page_token: str | None = None
