"""MLflow 3 logged models as the run and version pages show them.

A model logged with `mlflow.<flavor>.log_model` lives in its own artifact
location (`<experiment>/models/<model_id>/artifacts`), not in the run's
artifacts, so a run page that only listed the run's files would say "No
artifacts" for it. This module finds a run's logged models, reads each one's
MLmodel (flavors, signature) and says where a version's files come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from modelyard.entities import Run
from modelyard.errors import ModelyardError
from modelyard.registry_entities import LoggedModel, ModelVersion
from modelyard.service.logged_models import RUN_FOLDER_PREFIX
from modelyard.ui import files, mlmodel
from modelyard.ui.search import string_literal
from modelyard.ui.web import UiRequest

MAX_MODELS_PER_RUN = 100


@dataclass(frozen=True, slots=True)
class ModelCard:
    model: LoggedModel
    mlmodel: mlmodel.MLmodel | None


def read_mlmodel(source: files.FileSource) -> mlmodel.MLmodel | None:
    """The source's root MLmodel, or None when there is none (a plain folder)."""
    text = files.read_text(source, "MLmodel")
    return None if text is None else mlmodel.parse(text)


def for_run(req: UiRequest, run: Run) -> list[ModelCard]:
    """The models logged from this run (the run's own folder, registered as a
    model, is not one: its files are the run's artifacts)."""
    registry = req.services.registry
    if registry is None:
        return []
    page = registry.search_logged_models(
        [run.info.experiment_id],
        filter_string=f"source_run_id = {string_literal(run.info.run_id)}",
        max_results=MAX_MODELS_PER_RUN,
        order_by=[{"field_name": "creation_timestamp", "ascending": True}],
    )
    cards = []
    for model in page.items:
        if model.model_id.startswith(RUN_FOLDER_PREFIX):
            continue
        try:
            info = read_mlmodel(files.logged_model_source(req, model.model_id))
        except ModelyardError:
            info = None
        cards.append(ModelCard(model, info))
    return cards


@dataclass(frozen=True, slots=True)
class VersionOrigin:
    """Where a version comes from, as its page shows it.

    `source` is what to display: `runs:/<run_id>` for a plain run folder
    registered through MLflow 3's lookup (its stored source is the internal
    `models:/m-run-<run_id>`, meaningless to a user). `browse` is the run
    page link that shows the version's files: the run's artifacts, or the
    logged model's files on the run's page.
    """

    source: str
    browse: str | None
    logged_model_id: str | None


def version_origin(mv: ModelVersion) -> VersionOrigin:
    source = mv.source
    model_id = mv.model_id
    if model_id and model_id.startswith(RUN_FOLDER_PREFIX):
        run_id = model_id[len(RUN_FOLDER_PREFIX) :]
        return VersionOrigin(f"runs:/{run_id}", _run_link(run_id, ""), None)
    if model_id and mv.run_id:
        link = f"/runs/{quote(mv.run_id, safe='')}?files={quote(model_id, safe='')}#artifacts"
        return VersionOrigin(source, link, model_id)
    location = mv.download_uri
    for prefix in ("runs:/", "run:/"):
        if location.startswith(prefix):
            run_id, _, path = location[len(prefix) :].partition("/")
            return VersionOrigin(source, _run_link(run_id, path.strip("/")), None)
    if mv.run_id and "/artifacts/" in location and mv.run_id in location:
        path = location.split("/artifacts/", 1)[1].strip("/")
        return VersionOrigin(source, _run_link(mv.run_id, path), None)
    if mv.run_id:
        return VersionOrigin(source, _run_link(mv.run_id, ""), None)
    return VersionOrigin(source, None, model_id)


def _run_link(run_id: str, path: str) -> str:
    query = f"?artifact={quote(path, safe='')}" if path else ""
    return f"/runs/{quote(run_id, safe='')}{query}#artifacts"


def source_run_metrics(req: UiRequest, mv: ModelVersion) -> tuple[Any, list[Any]]:
    """(run info, its latest metrics sorted by key), or (None, []) without a source run."""
    if not mv.run_id:
        return None, []
    try:
        run = req.services.tracking.get_run(mv.run_id)
    except ModelyardError:
        return None, []
    return run.info, sorted(run.data.metrics, key=lambda m: m.key)
