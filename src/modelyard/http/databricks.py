"""Databricks' workspace-registry variants of two MLflow endpoints, and the probe.

`databricks-sdk`'s `ModelRegistryAPI` calls these where MLflow has a plain
endpoint: `GET databricks/registered-models/get` answers
`{"registered_model_databricks": …}` (MLflow's registered model plus `id` and
the caller's `permission_level`), and `POST databricks/model-versions/transition-stage`
(`{name, version, stage, archive_existing_versions, comment}`) answers
`{"model_version_databricks": …}` (MLflow's model version plus its
`open_requests` and the caller's `permission_level`). The transition passes the
same approval gate as MLflow's.

`WorkspaceClient(host=…)` first asks `GET /.well-known/databricks-config` for
host metadata; a quick 404 tells it there is none, and it carries on with the
token it was given.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelyard.errors import EndpointNotFound
from modelyard.http.args import Args
from modelyard.http.auth_rules import PUBLIC, Rule, model
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.errors import render_error
from modelyard.http.model_versions import model_version_json
from modelyard.http.registered_models import registered_model_json
from modelyard.http.transition_requests import request_json
from modelyard.service.permissions import READ

Json = dict[str, Any]


def get_model(ctx: Ctx, args: Args) -> Json:
    """The registered model with the caller's Databricks permission level."""
    name = args.str("name")
    model = ctx.services.registry.get_registered_model(name)
    out = registered_model_json(model)
    out["id"] = model.name
    out["permission_level"] = ctx.services.approvals.permission_level(model.name, ctx.identity.user)
    return {"registered_model_databricks": out}


def transition_stage(ctx: Ctx, args: Args) -> Json:
    """A direct stage transition with a comment (the approval gate applies)."""
    user = ctx.identity.user
    approvals = ctx.services.approvals
    mv = ctx.services.registry.transition_stage(
        args.str("name"),
        args.str("version"),
        args.str("stage"),
        archive_existing_versions=args.opt_bool("archive_existing_versions"),
        user=user,
        comment=args.opt_str("comment"),
    )
    out = model_version_json(mv)
    out["open_requests"] = [
        request_json(r, approvals.available_actions(r, user))
        for r in approvals.list_requests(mv.name, mv.version, user=user)
    ]
    out["permission_level"] = approvals.permission_level(mv.name, user)
    return {"model_version_databricks": out}


async def databricks_config(request: Request) -> Response:
    """No Databricks host metadata here: a quick 404 for the SDK's probe."""
    return render_error(EndpointNotFound("This server publishes no Databricks host metadata."))


ROUTES: list[RouteSpec] = [
    ("GET", "databricks/registered-models/get", get_model),
    ("POST", "databricks/model-versions/transition-stage", transition_stage),
]

RAW_ROUTES: list[BaseRoute] = [
    Route("/.well-known/databricks-config", databricks_config, methods=["GET"]),
]

PERMISSIONS: dict[tuple[str, str], Rule] = {
    ("GET", "databricks/registered-models/get"): model(READ),
    # The stage right (and the approval policy) is checked by the service.
    ("POST", "databricks/model-versions/transition-stage"): model(READ),
    ("GET", "/.well-known/databricks-config"): PUBLIC,
}
