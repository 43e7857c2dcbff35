"""MLflow's JSON shapes → modelyard's entities, for the client.

The inverse of the server's serialisers, written to be lenient: protobuf JSON
leaves out unset fields and empty lists, older servers omit newer fields, and
model versions are strings on the wire (integers in our entities). Any
MLflow-compatible server's answers parse here, not only modelyard's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.entities import Experiment, Metric, Param, Run, RunData, RunInfo, Tag
from modelyard.registry_entities import (
    HistoryEvent,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    StageHolder,
)

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of an artifact listing; `path` is relative to the listed root."""

    path: str
    is_dir: bool
    file_size: int | None = None


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _str(d: Json, key: str, default: str = "") -> str:
    value = d.get(key)
    return default if value is None else str(value)


def tags(items: Any) -> tuple[Tag, ...]:
    return tuple(Tag(str(t["key"]), _str(t, "value")) for t in items or ())


def experiment(d: Json) -> Experiment:
    return Experiment(
        experiment_id=_str(d, "experiment_id"),
        name=_str(d, "name"),
        artifact_location=_str(d, "artifact_location"),
        lifecycle_stage=_str(d, "lifecycle_stage", "active"),
        creation_time=_opt_int(d.get("creation_time")),
        last_update_time=_opt_int(d.get("last_update_time")),
        tags=tags(d.get("tags")),
    )


def metric(d: Json) -> Metric:
    return Metric(
        key=_str(d, "key"),
        value=float(d.get("value", 0.0)),  # float() reads "NaN" / "Infinity" too
        timestamp=int(d.get("timestamp", 0)),
        step=int(d.get("step", 0)),
        model_id=d.get("model_id"),
        dataset_name=d.get("dataset_name"),
        dataset_digest=d.get("dataset_digest"),
        run_id=d.get("run_id"),
    )


def run_info(d: Json) -> RunInfo:
    return RunInfo(
        run_id=_str(d, "run_id") or _str(d, "run_uuid"),
        experiment_id=_str(d, "experiment_id"),
        run_name=_str(d, "run_name"),
        user_id=_str(d, "user_id"),
        status=_str(d, "status", "RUNNING"),
        start_time=_opt_int(d.get("start_time")),
        end_time=_opt_int(d.get("end_time")),
        artifact_uri=_str(d, "artifact_uri"),
        lifecycle_stage=_str(d, "lifecycle_stage", "active"),
    )


def run(d: Json) -> Run:
    data = d.get("data") or {}
    return Run(
        info=run_info(d.get("info") or {}),
        data=RunData(
            metrics=tuple(metric(m) for m in data.get("metrics") or ()),
            params=tuple(Param(str(p["key"]), _str(p, "value")) for p in data.get("params") or ()),
            tags=tags(data.get("tags")),
        ),
    )


def model_version(d: Json) -> ModelVersion:
    return ModelVersion(
        name=_str(d, "name"),
        version=int(d.get("version", 0)),
        creation_timestamp=int(d.get("creation_timestamp", 0)),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0)),
        current_stage=_str(d, "current_stage", "None"),
        source=_str(d, "source"),
        description=d.get("description") or None,
        user_id=d.get("user_id") or None,
        run_id=d.get("run_id") or None,
        run_link=d.get("run_link") or None,
        model_id=d.get("model_id") or None,
        storage_location=d.get("storage_location") or None,
        status=_str(d, "status", "READY"),
        status_message=d.get("status_message") or None,
        tags=tags(d.get("tags")),
        aliases=tuple(str(a) for a in d.get("aliases") or ()),
    )


def registered_model(d: Json) -> RegisteredModel:
    return RegisteredModel(
        name=_str(d, "name"),
        creation_timestamp=int(d.get("creation_timestamp", 0)),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0)),
        description=d.get("description") or None,
        latest_versions=tuple(model_version(v) for v in d.get("latest_versions") or ()),
        tags=tags(d.get("tags")),
        aliases=tuple(
            ModelAlias(str(a["alias"]), int(a["version"])) for a in d.get("aliases") or ()
        ),
    )


def history_event(d: Json) -> HistoryEvent:
    return HistoryEvent(
        event_id=int(d.get("event_id", 0)),
        name=_str(d, "name"),
        version=int(d.get("version", 0)),
        action=_str(d, "action"),
        timestamp=int(d.get("timestamp", 0)),
        from_stage=d.get("from_stage"),
        to_stage=d.get("to_stage"),
        alias=d.get("alias"),
        previous_version=_opt_int(d.get("previous_version")),
        user_id=d.get("user_id"),
        comment=d.get("comment"),
        cause=_str(d, "cause", "request"),
    )


def stage_holder(d: Json) -> StageHolder:
    return StageHolder(
        name=_str(d, "name"),
        stage=_str(d, "stage"),
        at=int(d.get("at", 0)),
        version=_opt_int(d.get("version")),
        since=_opt_int(d.get("since")),
    )


def file_info(d: Json) -> FileInfo:
    return FileInfo(
        path=_str(d, "path"),
        is_dir=bool(d.get("is_dir", False)),
        file_size=_opt_int(d.get("file_size")),
    )
