"""Which of MLflow's REST endpoints modelyard serves, checked against the
pinned mlflow server's own route table (mlflow.server.handlers.get_endpoints).

Every endpoint of the families we claim must be routed here, under both
/api/ and /ajax-api/; anything MLflow has that we do not serve must be listed
in NOT_SERVED with the reason, so a gap is a decision, not an accident.
"""

from __future__ import annotations

import re

from starlette.routing import Match

from modelyard.app import all_routes

# Path prefixes (after /api/<v>/mlflow/) whose every MLflow endpoint we serve.
SERVED_FAMILIES = (
    "experiments/",
    "runs/",
    "metrics/",
    "artifacts/list",
    "server-info",
    "registered-models/",
    "model-versions/",
    "logged-models",
    "webhooks",
)

NOT_SERVED = {
    # Presigned URLs only make sense for cloud object stores; server-info says
    # we don't offer them, so the client never asks.
    "artifacts/presigned-download-url": "no presigned transfers (server-info advertises none)",
    "artifacts/presigned-upload-url": "no presigned transfers (server-info advertises none)",
}

NOT_SERVED_FAMILIES = {
    "traces": "GenAI tracing is out of scope for now",
    "unified-traces": "GenAI tracing is out of scope for now",
    "get-online-trace-details": "GenAI tracing is out of scope for now",
    "datasets/": "GenAI evaluation datasets are out of scope for now",
    "gateway/": "AI gateway is out of scope",
    "issues": "GenAI issue tracking is out of scope",
    "label-schemas/": "GenAI labeling is out of scope",
    "prompt-optimization/": "GenAI prompt optimization is out of scope",
    "review-queues/": "GenAI review queues are out of scope",
    "scorers/": "GenAI scorers are out of scope",
    "workspaces": "workspaces are not supported (server-info says so)",
    # UI-only (ajax) helpers of MLflow's GenAI pages:
    "scorer/": "GenAI scorers are out of scope",
    "demo/": "MLflow UI demo data generator",
    "genai/": "GenAI evaluation is out of scope",
    "jobs/": "MLflow's background jobs for GenAI features",
}


def _mlflow_endpoints() -> list[tuple[str, str, str]]:
    from mlflow.server.handlers import get_endpoints

    out = []
    for path, _handler, methods in get_endpoints():
        m = re.match(r"^/(api|ajax-api)/(2\.0|3\.0)/mlflow/(.*)$", path)
        if m:
            for method in methods:
                out.append((method, path, m.group(3)))
    return out


def _routed(method: str, path: str) -> bool:
    concrete = re.sub(r"<(?:path:)?\w+>", "x1", path)
    scope = {"type": "http", "method": method, "path": concrete, "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in all_routes())


def _family(rest: str, families: tuple[str, ...] | dict[str, str]) -> bool:
    return any(rest == f.rstrip("/") or rest.startswith(f) for f in families)


def test_every_endpoint_of_served_families_is_routed() -> None:
    missing = [
        f"{method} {path}"
        for method, path, rest in _mlflow_endpoints()
        if _family(rest, SERVED_FAMILIES) and rest not in NOT_SERVED and not _routed(method, path)
    ]
    assert missing == []


def test_every_other_endpoint_is_a_recorded_decision() -> None:
    undecided = sorted(
        f"{method} {path}"
        for method, path, rest in _mlflow_endpoints()
        if not _family(rest, SERVED_FAMILIES)
        and rest not in NOT_SERVED
        and not _family(rest, NOT_SERVED_FAMILIES)
        and not _routed(method, path)
    )
    assert undecided == []


# Helpers MLflow's server registers outside its protobuf route table (so
# get_endpoints() above does not list them) that its UI and tools call.
UI_HELPERS = (
    ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk"),
    ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"),
    ("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets"),
    ("POST", "/ajax-api/2.0/mlflow/upload-artifact"),
    ("GET", "/get-artifact"),
    ("GET", "/model-versions/get-artifact"),
)


def test_mlflow_ui_helpers_are_routed() -> None:
    assert [f"{m} {p}" for m, p in UI_HELPERS if not _routed(m, p)] == []
