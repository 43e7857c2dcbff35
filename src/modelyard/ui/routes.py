"""The UI's route table, mounted by `create_app` next to the REST API.

Pages live at short paths (`/experiments`, `/runs/<id>`, `/models/<name>`);
what the pages' scripts fetch (chart points, fragments) lives under `/ui/`;
static files under `/static/`. None of these prefixes overlaps the API's
(`/api`, `/ajax-api`, `/health`, `/version`, `/get-artifact`,
`/model-versions/get-artifact`), and `tests/ui` checks that.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"

Endpoint = Callable[[Request], Awaitable[Response]]


def _lazy(target: str, *, page: bool = True) -> Endpoint:
    """The endpoint of `module:function` in this package, imported at its first request.

    The pages' modules bring Jinja, YAML and every service they show; a server
    that only answers the tracking API never needs them, and importing them took
    a third of its start-up. A page view (`page`) is wrapped by `web.view`; a raw
    endpoint is called as it is.
    """
    module, name = target.split(":")
    loaded: Endpoint | None = None

    async def endpoint(request: Request) -> Response:
        nonlocal loaded
        if loaded is None:
            fn = getattr(importlib.import_module(f"modelyard.ui.{module}"), name)
            if page:
                from modelyard.ui.web import view

                fn = view(fn)
            loaded = fn
        return await loaded(request)

    endpoint.__name__ = name
    return endpoint


_VERSION = "/models/{name}/versions/{version:int}"

RAW_ROUTES: list[BaseRoute] = [
    Route("/", _lazy("front:home"), methods=["GET"]),
    Route("/experiments", _lazy("experiments:experiments_list"), methods=["GET"]),
    Route("/experiments/{experiment_id}", _lazy("experiments:experiment_page"), methods=["GET"]),
    Route("/experiments", _lazy("manage:experiment_create"), methods=["POST"]),
    Route(
        "/experiments/{experiment_id}/manage", _lazy("manage:experiment_manage"), methods=["GET"]
    ),
    Route(
        "/experiments/{experiment_id}/rename", _lazy("manage:experiment_rename"), methods=["POST"]
    ),
    Route(
        "/experiments/{experiment_id}/delete",
        _lazy("manage:experiment_delete_confirm"),
        methods=["GET"],
    ),
    Route(
        "/experiments/{experiment_id}/delete", _lazy("manage:experiment_delete"), methods=["POST"]
    ),
    Route(
        "/experiments/{experiment_id}/restore", _lazy("manage:experiment_restore"), methods=["POST"]
    ),
    Route("/runs/{run_id}/rename", _lazy("manage:run_rename"), methods=["POST"]),
    Route("/runs/{run_id}/delete", _lazy("manage:run_delete_confirm"), methods=["GET"]),
    Route("/runs/{run_id}/delete", _lazy("manage:run_delete"), methods=["POST"]),
    Route("/runs/{run_id}/restore", _lazy("manage:run_restore"), methods=["POST"]),
    Route("/runs/{run_id}/tags", _lazy("manage:run_tag"), methods=["POST"]),
    Route("/runs/{run_id}/note", _lazy("manage:run_note"), methods=["POST"]),
    Route("/experiments/{experiment_id}/plots", _lazy("plots:plots_page"), methods=["GET"]),
    Route("/experiments/{experiment_id}/charts", _lazy("charts:charts_page"), methods=["GET"]),
    Route(
        "/ui/experiments/{experiment_id}/chart-panel", _lazy("charts:chart_panel"), methods=["GET"]
    ),
    Route("/compare", _lazy("experiments:compare_page"), methods=["GET"]),
    Route("/runs/{run_id}", _lazy("runs:run_page"), methods=["GET"]),
    Route("/ui/series", _lazy("runs:metric_series"), methods=["GET"]),
    Route("/ui/runs/{run_id}/artifact-tree", _lazy("runs:artifact_tree"), methods=["GET"]),
    Route("/ui/runs/{run_id}/artifact-preview", _lazy("runs:artifact_preview"), methods=["GET"]),
    Route("/models", _lazy("models:models_list"), methods=["GET"]),
    Route("/models/{name}", _lazy("models:model_page"), methods=["GET"]),
    Route("/models/{name}/description", _lazy("model_manage:model_description"), methods=["POST"]),
    Route("/models/{name}/tags", _lazy("model_manage:model_tag"), methods=["POST"]),
    Route("/models/{name}/rename", _lazy("model_manage:model_rename"), methods=["POST"]),
    Route("/models/{name}/delete", _lazy("model_manage:model_delete_confirm"), methods=["GET"]),
    Route("/models/{name}/delete", _lazy("model_manage:model_delete"), methods=["POST"]),
    Route(_VERSION, _lazy("models:version_page"), methods=["GET"]),
    Route(f"{_VERSION}/delete", _lazy("model_manage:version_delete_confirm"), methods=["GET"]),
    Route(f"{_VERSION}/delete", _lazy("model_manage:version_delete"), methods=["POST"]),
    Route(f"{_VERSION}/stage", _lazy("models:stage_confirm"), methods=["GET"]),
    Route(f"{_VERSION}/stage", _lazy("models:stage_apply"), methods=["POST"]),
    Route(f"{_VERSION}/alias", _lazy("models:alias_confirm"), methods=["GET"]),
    Route(f"{_VERSION}/alias", _lazy("models:alias_apply"), methods=["POST"]),
    Route(f"{_VERSION}/description", _lazy("models:description_apply"), methods=["POST"]),
    Route(f"{_VERSION}/tags", _lazy("models:tag_apply"), methods=["POST"]),
    Route(f"{_VERSION}/download", _lazy("models:download_version", page=False), methods=["GET"]),
    Route(f"/ui{_VERSION}/artifact-tree", _lazy("models:version_artifact_tree"), methods=["GET"]),
    Route(
        f"/ui{_VERSION}/artifact-preview", _lazy("models:version_artifact_preview"), methods=["GET"]
    ),
    Route(
        "/ui/logged-models/{model_id}/artifact-tree",
        _lazy("models:logged_model_tree"),
        methods=["GET"],
    ),
    Route(
        "/ui/logged-models/{model_id}/artifact-preview",
        _lazy("models:logged_model_preview"),
        methods=["GET"],
    ),
    Route(f"{_VERSION}/requests", _lazy("approvals:request_apply"), methods=["POST"]),
    Route(f"{_VERSION}/comments", _lazy("approvals:comment_apply"), methods=["POST"]),
    Route("/models/{name}/approval-policy", _lazy("approvals:policy_apply"), methods=["POST"]),
    Route("/webhooks", _lazy("webhooks:webhooks_list"), methods=["GET"]),
    Route("/webhooks/{webhook_id}", _lazy("webhooks:webhook_page"), methods=["GET"]),
    Route(
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        _lazy("webhooks:redeliver"),
        methods=["POST"],
    ),
    Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
]
