"""The permission rule of every route, declared in one table.

A rule says what a caller needs (`public`, any signed-in `user`, `admin`,
`self` = the user named in the request or an admin, or a level on a
resource) and where the request names the resource. `http/auth_guard.py`
enforces the rules; `tests/http/test_permission_matrix.py` enumerates the
app's route table and fails for any route without one.

Keys are (method, path): API routes by their path under the API family as
their module declares it (`experiments/get`, `3.0/mlflow/...` paths start
with `3.0/`), the others by their full Starlette path. Modules may also
export their own `PERMISSIONS` dict with the same keys; `all_rules()`
merges them, so a new route module declares its rules next to its routes.

Some decisions need the state of the resource (which stage a version is
in, whether an alias is protected): the rule then asks for READ and the
service finishes the check through `services.access`, so REST, UI and CLI
share one answer.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from modelyard.service.permissions import EDIT, MANAGE, READ


@dataclass(frozen=True)
class Rule:
    """What a request needs.

    need: "public", "user", "admin", "self", or a level (READ, EDIT, MANAGE).
    resource: for levels, what `arg` names: "experiment", "experiment_name",
      "run", "logged_model", "model", "artifact" (a proxied artifact path whose
      first segment is the experiment id), or "typed" (resource_type +
      resource_id fields, MLflow 3.x's grant API).
    arg: the field naming the resource (path parameter, query or JSON body),
      alternatives after a "|". many: the field is a list; each item is checked.
    """

    need: str
    resource: str = ""
    arg: str = ""
    many: bool = False

    @property
    def args(self) -> tuple[str, ...]:
        return tuple(self.arg.split("|")) if self.arg else ()


PUBLIC = Rule("public")
USER = Rule("user")
ADMIN = Rule("admin")
SELF = Rule("self", arg="username")


def exp(need: str, arg: str = "experiment_id") -> Rule:
    return Rule(need, "experiment", arg)


def run(need: str, arg: str = "run_id|run_uuid") -> Rule:
    return Rule(need, "run", arg)


def model(need: str, arg: str = "name") -> Rule:
    return Rule(need, "model", arg)


def logged(need: str, arg: str = "model_id") -> Rule:
    return Rule(need, "logged_model", arg)


def artifact(need: str, arg: str = "artifact_path") -> Rule:
    return Rule(need, "artifact", arg)


_API = "/api/2.0/mlflow-artifacts"
_AJAX = "/ajax-api/2.0/mlflow-artifacts"
_V = "/models/{name}/versions/{version:int}"
_HISTORY = ("/api/modelyard/v1", "/ajax-api/modelyard/v1")

RULES: dict[tuple[str, str], Rule] = {
    # -- meta and static -------------------------------------------------------
    ("GET", "/health"): PUBLIC,
    ("HEAD", "/health"): PUBLIC,
    ("GET", "/version"): PUBLIC,
    ("GET", "3.0/server-info"): USER,
    ("GET", "/static"): PUBLIC,
    # -- experiments -----------------------------------------------------------------
    ("POST", "experiments/create"): USER,
    ("GET", "experiments/get"): exp(READ),
    ("GET", "experiments/get-by-name"): Rule(READ, "experiment_name", "experiment_name"),
    ("GET", "experiments/search"): USER,  # results filtered to readable experiments
    ("POST", "experiments/search"): USER,
    ("POST", "experiments/update"): exp(EDIT),
    ("POST", "experiments/delete"): exp(MANAGE),
    ("POST", "experiments/restore"): exp(MANAGE),
    ("POST", "experiments/set-experiment-tag"): exp(EDIT),
    ("POST", "experiments/delete-experiment-tag"): exp(EDIT),
    # -- runs -----------------------------------------------------------------------
    ("POST", "runs/create"): exp(EDIT),
    ("GET", "runs/get"): run(READ),
    ("POST", "runs/update"): run(EDIT),
    ("POST", "runs/delete"): run(MANAGE),
    ("POST", "runs/restore"): run(MANAGE),
    ("POST", "runs/log-metric"): run(EDIT),
    ("POST", "runs/log-parameter"): run(EDIT),
    ("POST", "runs/set-tag"): run(EDIT),
    ("POST", "runs/delete-tag"): run(EDIT, "run_id"),
    ("POST", "runs/log-batch"): run(EDIT, "run_id"),
    ("POST", "runs/log-inputs"): run(EDIT, "run_id"),
    ("POST", "runs/outputs"): run(EDIT, "run_id"),
    ("POST", "runs/log-model"): run(EDIT, "run_id"),
    ("POST", "runs/search"): Rule(READ, "experiment", "experiment_ids", many=True),
    ("GET", "metrics/get-history"): run(READ),
    ("GET", "metrics/get-history-bulk-interval"): Rule(READ, "run", "run_ids", many=True),
    ("GET", "metrics/get-history-bulk"): Rule(READ, "run", "run_id", many=True),
    ("POST", "experiments/search-datasets"): Rule(READ, "experiment", "experiment_ids", many=True),
    ("GET", "artifacts/list"): run(READ),
    # -- artifacts --------------------------------------------------------------------
    **{
        (method, f"{family}{suffix}"): rule
        for family in (_API, _AJAX)
        for method, suffix, rule in (
            ("PUT", "/artifacts/{artifact_path:path}", artifact(EDIT)),
            ("GET", "/artifacts/{artifact_path:path}", artifact(READ)),
            ("DELETE", "/artifacts/{artifact_path:path}", artifact(MANAGE)),
            ("GET", "/artifacts", artifact(READ, "path")),
            ("POST", "/mpu/create/{artifact_path:path}", artifact(EDIT)),
            ("POST", "/mpu/complete/{artifact_path:path}", artifact(EDIT)),
            ("POST", "/mpu/abort/{artifact_path:path}", artifact(EDIT)),
            ("GET", "/presigned/{artifact_path:path}", artifact(READ)),
        )
    },
    ("GET", "/get-artifact"): run(READ),
    ("POST", "/ajax-api/2.0/mlflow/upload-artifact"): run(EDIT, "run_uuid"),
    # -- registered models ----------------------------------------------------------------
    ("POST", "registered-models/create"): USER,
    ("GET", "registered-models/get"): model(READ),
    ("POST", "registered-models/rename"): model(EDIT),
    ("PATCH", "registered-models/update"): model(EDIT),
    ("DELETE", "registered-models/delete"): model(MANAGE),
    ("GET", "registered-models/search"): USER,  # results filtered to readable models
    ("POST", "registered-models/get-latest-versions"): model(READ),
    ("GET", "registered-models/get-latest-versions"): model(READ),
    ("POST", "registered-models/set-tag"): model(EDIT),
    ("DELETE", "registered-models/delete-tag"): model(EDIT),
    # Protected aliases additionally need the Production right (checked by the service).
    ("POST", "registered-models/alias"): model(EDIT),
    ("GET", "registered-models/alias"): model(READ),
    ("DELETE", "registered-models/alias"): model(EDIT),
    # -- model versions ----------------------------------------------------------------------
    ("POST", "model-versions/create"): model(EDIT),
    ("GET", "model-versions/get"): model(READ),
    ("PATCH", "model-versions/update"): model(EDIT),
    ("DELETE", "model-versions/delete"): model(MANAGE),
    ("GET", "model-versions/search"): USER,  # results filtered to readable models
    ("GET", "model-versions/get-download-uri"): model(READ),
    # The stage right (Staging / Production) is checked by the service, which knows
    # the version's current stage.
    ("POST", "model-versions/transition-stage"): model(READ),
    ("POST", "model-versions/set-tag"): model(EDIT),
    ("DELETE", "model-versions/delete-tag"): model(EDIT),
    ("GET", "/model-versions/get-artifact"): model(READ),
    **{
        (method, f"{prefix}/{path}"): rule
        for prefix in _HISTORY
        for method, path, rule in (
            ("GET", "registered-models/history", model(READ)),
            ("GET", "registered-models/stage-holder", model(READ)),
            ("POST", "registered-models/rollback", model(READ)),  # stage right in the service
        )
    },
    # -- logged models --------------------------------------------------------------------------
    ("POST", "logged-models"): exp(EDIT),
    ("POST", "logged-models/search"): Rule(READ, "experiment", "experiment_ids", many=True),
    ("GET", "logged-models/{model_id}"): logged(READ),
    ("PATCH", "logged-models/{model_id}"): logged(EDIT),
    ("DELETE", "logged-models/{model_id}"): logged(MANAGE),
    ("PATCH", "logged-models/{model_id}/tags"): logged(EDIT),
    ("DELETE", "logged-models/{model_id}/tags/{tag_key:path}"): logged(EDIT),
    ("POST", "logged-models/{model_id}/params"): logged(EDIT),
    ("GET", "logged-models/{model_id}/artifacts/directories"): logged(READ),
    ("GET", "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files"): logged(READ),
    # -- web UI --------------------------------------------------------------------------------
    ("GET", "/"): USER,
    ("GET", "/experiments"): USER,  # lists only readable experiments
    ("GET", "/experiments/{experiment_id}"): exp(READ),
    ("GET", "/compare"): Rule(READ, "run", "run", many=True),
    ("GET", "/runs/{run_id}"): run(READ, "run_id"),
    ("GET", "/ui/series"): Rule(READ, "run", "run", many=True),
    ("GET", "/ui/runs/{run_id}/artifact-tree"): run(READ, "run_id"),
    ("GET", "/ui/runs/{run_id}/artifact-preview"): run(READ, "run_id"),
    ("GET", "/models"): USER,  # lists only readable models
    ("GET", "/models/{name}"): model(READ),
    ("GET", _V): model(READ),
    ("GET", f"{_V}/stage"): model(READ),
    ("POST", f"{_V}/stage"): model(READ),  # stage right in the service
    ("GET", f"{_V}/alias"): model(READ),
    ("POST", f"{_V}/alias"): model(EDIT),
    ("POST", f"{_V}/description"): model(EDIT),
    ("POST", f"{_V}/tags"): model(EDIT),
    ("GET", f"{_V}/download"): model(READ),
    ("GET", f"{_V}/delete"): model(MANAGE),  # the confirmation page
    ("POST", f"{_V}/delete"): model(MANAGE),
    ("GET", "/ui/models/{name}/versions/{version:int}/artifact-tree"): model(READ),
    ("GET", "/ui/models/{name}/versions/{version:int}/artifact-preview"): model(READ),
    ("POST", "/models/{name}/description"): model(EDIT),
    ("POST", "/models/{name}/tags"): model(EDIT),
    ("POST", "/models/{name}/rename"): model(EDIT),
    ("GET", "/models/{name}/delete"): model(MANAGE),
    ("POST", "/models/{name}/delete"): model(MANAGE),
    ("GET", "/ui/logged-models/{model_id}/artifact-tree"): logged(READ),
    ("GET", "/ui/logged-models/{model_id}/artifact-preview"): logged(READ),
    # Managing experiments and runs from the UI: the same levels as the REST calls.
    ("POST", "/experiments"): USER,
    ("GET", "/experiments/{experiment_id}/manage"): exp(READ),
    ("POST", "/experiments/{experiment_id}/rename"): exp(EDIT),
    ("GET", "/experiments/{experiment_id}/delete"): exp(MANAGE),
    ("POST", "/experiments/{experiment_id}/delete"): exp(MANAGE),
    ("POST", "/experiments/{experiment_id}/restore"): exp(MANAGE),
    ("GET", "/experiments/{experiment_id}/charts"): exp(READ),
    ("GET", "/experiments/{experiment_id}/plots"): exp(READ),
    ("GET", "/ui/experiments/{experiment_id}/chart-panel"): exp(READ),
    ("POST", "/runs/{run_id}/rename"): run(EDIT, "run_id"),
    ("GET", "/runs/{run_id}/delete"): run(MANAGE, "run_id"),
    ("POST", "/runs/{run_id}/delete"): run(MANAGE, "run_id"),
    ("POST", "/runs/{run_id}/restore"): run(MANAGE, "run_id"),
    ("POST", "/runs/{run_id}/tags"): run(EDIT, "run_id"),
    ("POST", "/runs/{run_id}/note"): run(EDIT, "run_id"),
    # -- the API description (nothing in it is per-user) ---------------------------------
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
}

# Modules whose `PERMISSIONS` dicts join the table (new route modules add themselves).
RULE_MODULES = (
    "modelyard.http.auth_api",
    "modelyard.ui.auth_pages",
    "modelyard.http.manifests",
    "modelyard.http.transition_requests",  # approvals
    "modelyard.http.databricks",
    "modelyard.ui.approvals",
    "modelyard.http.webhooks",
    "modelyard.http.registry_webhooks",
    "modelyard.ui.webhooks",
)


def all_rules() -> dict[tuple[str, str], Rule]:
    rules = dict(RULES)
    for name in RULE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        rules.update(getattr(module, "PERMISSIONS", {}))
    return rules
