"""Managing experiments and runs from the UI: create, rename, delete, restore, tags, notes.

Every action calls the tracking service method the REST API calls
(`create_experiment`, `rename_experiment`, `delete_run`, `set_tag` …), so
names, tag keys and lifecycle rules are validated once, in the service, and
an error reads the same in the UI as from `mlflow`. Writes are POST forms
(refused cross-site by `ui.web`) answered with a 303 redirect; a delete first
shows a confirmation page saying what goes with it and how to undo it.
"""

from __future__ import annotations

from starlette.responses import Response

from modelyard.entities import LifecycleStage
from modelyard.errors import InvalidParameterValue
from modelyard.ui import queries
from modelyard.ui.render import Page, url_quote
from modelyard.ui.search import string_literal
from modelyard.ui.web import UiRequest, redirect

# MLflow keeps a run's notes in this tag (its UI shows them as the run's description).
NOTE_TAG = "mlflow.note.content"

# What a redirect's `done=` shows: fixed texts, so a link cannot put words on the page.
NOTICES = {
    "created": "Experiment created.",
    "renamed": "Renamed.",
    "deleted": "Deleted. It can be restored from this page.",
    "restored": "Restored.",
    "tag-set": "Tag saved.",
    "tag-deleted": "Tag removed.",
    "note": "Note saved.",
}


def notice(req: UiRequest) -> str | None:
    return NOTICES.get(req.arg("done"))


def _required(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidParameterValue(f"Give the {what}: the field was empty.")
    return value


# -- experiments ----------------------------------------------------------------------------


def experiment_create(req: UiRequest) -> Response:
    name = _required(req.field("name"), "new experiment a name")
    experiment_id = req.services.tracking.create_experiment(name)
    return redirect(f"/experiments/{url_quote(experiment_id)}?done=created")


def experiment_manage(req: UiRequest) -> Page:
    tracking = req.services.tracking
    experiment = tracking.get_experiment(req.path_params["experiment_id"])
    total = queries.experiment_activity(req.services.db, [experiment.experiment_id])[
        experiment.experiment_id
    ].run_count
    return Page(
        "experiment_manage.html",
        {
            "experiment": experiment,
            "tab": "manage",
            "state": {},
            "total": total,
            "notice": notice(req),
            "deleted": experiment.lifecycle_stage != LifecycleStage.ACTIVE,
        },
    )


def _experiment_url(experiment_id: str, suffix: str = "") -> str:
    return f"/experiments/{url_quote(experiment_id)}{suffix}"


def experiment_rename(req: UiRequest) -> Response:
    experiment_id = req.path_params["experiment_id"]
    name = _required(req.field("name"), "experiment a name")
    req.services.tracking.rename_experiment(experiment_id, name)
    return redirect(_experiment_url(experiment_id, "/manage?done=renamed"))


def experiment_delete_confirm(req: UiRequest) -> Page:
    experiment = req.services.tracking.get_experiment(req.path_params["experiment_id"])
    total = queries.experiment_activity(req.services.db, [experiment.experiment_id])[
        experiment.experiment_id
    ].run_count
    return Page("confirm_delete_experiment.html", {"experiment": experiment, "total": total})


def experiment_delete(req: UiRequest) -> Response:
    experiment_id = req.path_params["experiment_id"]
    req.services.tracking.delete_experiment(experiment_id)
    return redirect(_experiment_url(experiment_id, "/manage?done=deleted"))


def experiment_restore(req: UiRequest) -> Response:
    experiment_id = req.path_params["experiment_id"]
    req.services.tracking.restore_experiment(experiment_id)
    return redirect(_experiment_url(experiment_id, "/manage?done=restored"))


# -- runs -------------------------------------------------------------------------------------


def _run_url(run_id: str, done: str) -> str:
    return f"/runs/{url_quote(run_id)}?done={done}#manage"


def run_rename(req: UiRequest) -> Response:
    run_id = req.path_params["run_id"]
    name = _required(req.field("name"), "run a name")
    req.services.tracking.update_run(run_id, run_name=name)
    return redirect(_run_url(run_id, "renamed"))


def run_delete_confirm(req: UiRequest) -> Page:
    run = req.services.tracking.get_run(req.path_params["run_id"])
    versions = []
    registry = req.services.registry
    if registry is not None:
        versions = registry.search_model_versions(
            filter_string=f"run_id = {string_literal(run.info.run_id)}", max_results=100
        ).items
    return Page("confirm_delete_run.html", {"run": run, "info": run.info, "versions": versions})


def run_delete(req: UiRequest) -> Response:
    run_id = req.path_params["run_id"]
    req.services.tracking.delete_run(run_id)
    return redirect(_run_url(run_id, "deleted"))


def run_restore(req: UiRequest) -> Response:
    run_id = req.path_params["run_id"]
    req.services.tracking.restore_run(run_id)
    return redirect(_run_url(run_id, "restored"))


def run_tag(req: UiRequest) -> Response:
    run_id = req.path_params["run_id"]
    key = _required(req.field("key"), "tag a key")
    if req.field("action") == "delete":
        req.services.tracking.delete_tag(run_id, key)
        done = "tag-deleted"
    else:
        req.services.tracking.set_tag(run_id, key, req.field("value"))
        done = "tag-set"
    return redirect(_run_url(run_id, done))


def run_note(req: UiRequest) -> Response:
    run_id = req.path_params["run_id"]
    req.services.tracking.set_tag(run_id, NOTE_TAG, req.text_field("note"))
    return redirect(_run_url(run_id, "note"))
