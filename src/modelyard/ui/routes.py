"""The UI's route table, mounted by `create_app` next to the REST API.

Pages live at short paths (`/experiments`, `/runs/<id>`, `/models/<name>`);
what the pages' scripts fetch (chart points, fragments) lives under `/ui/`;
static files under `/static/`. None of these prefixes overlaps the API's
(`/api`, `/ajax-api`, `/health`, `/version`, `/get-artifact`,
`/model-versions/get-artifact`), and `tests/ui` checks that.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from modelyard.ui import (
    approvals,
    charts,
    experiments,
    manage,
    model_manage,
    models,
    plots,
    runs,
    webhooks,
)
from modelyard.ui.render import Page
from modelyard.ui.web import UiRequest, view

STATIC_DIR = Path(__file__).parent / "static"


def home(req: UiRequest) -> Page:
    """The front page: MLflow clients print links such as
    `/#/experiments/1/runs/<id>`, whose hash never reaches the server, so this
    page's script (static/deeplink.js) routes them to the matching page; with
    no hash it opens the experiments list."""
    return Page("front.html")


_VERSION = "/models/{name}/versions/{version:int}"

RAW_ROUTES: list[BaseRoute] = [
    Route("/", view(home), methods=["GET"]),
    Route("/experiments", view(experiments.experiments_list), methods=["GET"]),
    Route("/experiments/{experiment_id}", view(experiments.experiment_page), methods=["GET"]),
    Route("/experiments", view(manage.experiment_create), methods=["POST"]),
    Route("/experiments/{experiment_id}/manage", view(manage.experiment_manage), methods=["GET"]),
    Route("/experiments/{experiment_id}/rename", view(manage.experiment_rename), methods=["POST"]),
    Route(
        "/experiments/{experiment_id}/delete",
        view(manage.experiment_delete_confirm),
        methods=["GET"],
    ),
    Route("/experiments/{experiment_id}/delete", view(manage.experiment_delete), methods=["POST"]),
    Route(
        "/experiments/{experiment_id}/restore", view(manage.experiment_restore), methods=["POST"]
    ),
    Route("/runs/{run_id}/rename", view(manage.run_rename), methods=["POST"]),
    Route("/runs/{run_id}/delete", view(manage.run_delete_confirm), methods=["GET"]),
    Route("/runs/{run_id}/delete", view(manage.run_delete), methods=["POST"]),
    Route("/runs/{run_id}/restore", view(manage.run_restore), methods=["POST"]),
    Route("/runs/{run_id}/tags", view(manage.run_tag), methods=["POST"]),
    Route("/runs/{run_id}/note", view(manage.run_note), methods=["POST"]),
    Route("/experiments/{experiment_id}/plots", view(plots.plots_page), methods=["GET"]),
    Route("/experiments/{experiment_id}/charts", view(charts.charts_page), methods=["GET"]),
    Route("/ui/experiments/{experiment_id}/chart-panel", view(charts.chart_panel), methods=["GET"]),
    Route("/compare", view(experiments.compare_page), methods=["GET"]),
    Route("/runs/{run_id}", view(runs.run_page), methods=["GET"]),
    Route("/ui/series", view(runs.metric_series), methods=["GET"]),
    Route("/ui/runs/{run_id}/artifact-tree", view(runs.artifact_tree), methods=["GET"]),
    Route("/ui/runs/{run_id}/artifact-preview", view(runs.artifact_preview), methods=["GET"]),
    Route("/models", view(models.models_list), methods=["GET"]),
    Route("/models/{name}", view(models.model_page), methods=["GET"]),
    Route("/models/{name}/description", view(model_manage.model_description), methods=["POST"]),
    Route("/models/{name}/tags", view(model_manage.model_tag), methods=["POST"]),
    Route("/models/{name}/rename", view(model_manage.model_rename), methods=["POST"]),
    Route("/models/{name}/delete", view(model_manage.model_delete_confirm), methods=["GET"]),
    Route("/models/{name}/delete", view(model_manage.model_delete), methods=["POST"]),
    Route(_VERSION, view(models.version_page), methods=["GET"]),
    Route(f"{_VERSION}/delete", view(model_manage.version_delete_confirm), methods=["GET"]),
    Route(f"{_VERSION}/delete", view(model_manage.version_delete), methods=["POST"]),
    Route(f"{_VERSION}/stage", view(models.stage_confirm), methods=["GET"]),
    Route(f"{_VERSION}/stage", view(models.stage_apply), methods=["POST"]),
    Route(f"{_VERSION}/alias", view(models.alias_confirm), methods=["GET"]),
    Route(f"{_VERSION}/alias", view(models.alias_apply), methods=["POST"]),
    Route(f"{_VERSION}/description", view(models.description_apply), methods=["POST"]),
    Route(f"{_VERSION}/tags", view(models.tag_apply), methods=["POST"]),
    Route(f"{_VERSION}/download", models.download_version, methods=["GET"]),
    Route(f"/ui{_VERSION}/artifact-tree", view(models.version_artifact_tree), methods=["GET"]),
    Route(
        f"/ui{_VERSION}/artifact-preview", view(models.version_artifact_preview), methods=["GET"]
    ),
    Route(
        "/ui/logged-models/{model_id}/artifact-tree",
        view(models.logged_model_tree),
        methods=["GET"],
    ),
    Route(
        "/ui/logged-models/{model_id}/artifact-preview",
        view(models.logged_model_preview),
        methods=["GET"],
    ),
    Route(f"{_VERSION}/requests", view(approvals.request_apply), methods=["POST"]),
    Route(f"{_VERSION}/comments", view(approvals.comment_apply), methods=["POST"]),
    Route("/models/{name}/approval-policy", view(approvals.policy_apply), methods=["POST"]),
    Route("/webhooks", view(webhooks.webhooks_list), methods=["GET"]),
    Route("/webhooks/{webhook_id}", view(webhooks.webhook_page), methods=["GET"]),
    Route(
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        view(webhooks.redeliver),
        methods=["POST"],
    ),
    Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
]
