"""Tracking entities → MLflow's JSON shapes.

Mirrors protobuf JSON as MLflow emits it: field names as in the .proto files,
int64 values as numbers, unset optional fields and empty lists left out, and
non-finite doubles as "NaN" / "Infinity" / "-Infinity".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from modelyard.entities import (
    DatasetInput,
    Experiment,
    Metric,
    ModelIO,
    Page,
    Run,
    RunInfo,
    Tag,
)
from modelyard.http.jsonio import float_out

Json = dict[str, Any]
T = TypeVar("T")


def page_json(
    page: Page[T], key: str, item_json: Callable[[T], Json], *, keep_empty: bool = False
) -> Json:
    """One page of a listing as MLflow sends it: the items under `key` (left
    out when empty, as protobuf JSON does, unless `keep_empty`) and
    `next_page_token` only when there is a next page."""
    out: Json = {}
    if page.items or keep_empty:
        out[key] = [item_json(item) for item in page.items]
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def tags_json(tags: tuple[Tag, ...] | list[Tag]) -> list[Json]:
    return [{"key": t.key, "value": t.value} for t in tags]


def experiment_json(exp: Experiment) -> Json:
    out: Json = {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": exp.artifact_location,
        "lifecycle_stage": exp.lifecycle_stage,
    }
    if exp.last_update_time is not None:
        out["last_update_time"] = exp.last_update_time
    if exp.creation_time is not None:
        out["creation_time"] = exp.creation_time
    if exp.tags:
        out["tags"] = tags_json(exp.tags)
    return out


def metric_json(m: Metric, with_run_id: bool = False) -> Json:
    out: Json = {
        "key": m.key,
        "value": float_out(m.value),
        "timestamp": m.timestamp,
        "step": m.step,
    }
    if m.dataset_name:
        out["dataset_name"] = m.dataset_name
    if m.dataset_digest:
        out["dataset_digest"] = m.dataset_digest
    if m.model_id:
        out["model_id"] = m.model_id
    if with_run_id and m.run_id:
        out["run_id"] = m.run_id
    return out


def run_info_json(info: RunInfo) -> Json:
    out: Json = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status,
    }
    if info.start_time is not None:
        out["start_time"] = info.start_time
    if info.end_time is not None:
        out["end_time"] = info.end_time
    out["artifact_uri"] = info.artifact_uri
    out["lifecycle_stage"] = info.lifecycle_stage
    return out


def _dataset_input_json(di: DatasetInput) -> Json:
    ds = di.dataset
    dataset: Json = {
        "name": ds.name,
        "digest": ds.digest,
        "source_type": ds.source_type,
        "source": ds.source,
    }
    if ds.schema is not None:
        dataset["schema"] = ds.schema
    if ds.profile is not None:
        dataset["profile"] = ds.profile
    out: Json = {"dataset": dataset}
    if di.tags:
        out["tags"] = tags_json(di.tags)
    return out


def _model_io_json(m: ModelIO) -> Json:
    out: Json = {"model_id": m.model_id}
    if m.step is not None:
        out["step"] = m.step
    return out


def run_json(run: Run) -> Json:
    data: Json = {}
    if run.data.metrics:
        data["metrics"] = [metric_json(m) for m in run.data.metrics]
    if run.data.params:
        data["params"] = [{"key": p.key, "value": p.value} for p in run.data.params]
    if run.data.tags:
        data["tags"] = tags_json(run.data.tags)
    inputs: Json = {}
    if run.inputs.dataset_inputs:
        inputs["dataset_inputs"] = [_dataset_input_json(d) for d in run.inputs.dataset_inputs]
    if run.inputs.model_inputs:
        inputs["model_inputs"] = [_model_io_json(m) for m in run.inputs.model_inputs]
    outputs: Json = {}
    if run.outputs.model_outputs:
        outputs["model_outputs"] = [_model_io_json(m) for m in run.outputs.model_outputs]
    return {"info": run_info_json(run.info), "data": data, "inputs": inputs, "outputs": outputs}
