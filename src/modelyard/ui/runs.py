"""The run page: params, metrics and their charts, tags, artifacts, registered versions.

Charts get their points from `metric_series` as JSON, one request per chart,
so the page itself stays as fast with a 100,000-point metric as with ten, and
zooming in asks for the visible range again (raw points once few enough).
The artifact browser is server-rendered (deep link: `?artifact=path`); the
page's script swaps in the `_artifact_*.html` fragments instead of reloading.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import Response

from modelyard.entities import Run
from modelyard.errors import InvalidParameterValue
from modelyard.http.jsonio import json_response
from modelyard.ui import downsample, files, logged_models, manage, queries
from modelyard.ui.render import Page
from modelyard.ui.search import string_literal
from modelyard.ui.web import UiRequest

SYSTEM_TAG_PREFIX = "mlflow."
MAX_SERIES_RUNS = 20


def _x_axis(req: UiRequest) -> str:
    return "time" if req.arg("x") == "time" else "step"


def run_page(req: UiRequest) -> Page:
    services = req.services
    run: Run = services.tracking.get_run(req.path_params["run_id"])
    experiment = services.tracking.get_experiment(run.info.experiment_id)
    run_id = run.info.run_id
    logged = logged_models.for_run(req, run)
    shown = req.arg("files")
    if shown and shown in {m.model.model_id for m in logged}:
        browser = files.browse(lambda: files.logged_model_source(req, shown), req.arg("artifact"))
    else:
        shown = ""
        browser = files.browse(lambda: files.run_source(req, run_id), req.arg("artifact"))
    tags = sorted(run.data.tags, key=lambda t: t.key)
    return Page(
        "run.html",
        {
            "run": run,
            "info": run.info,
            "experiment": experiment,
            "metrics": sorted(run.data.metrics, key=lambda m: m.key),
            "params": sorted(run.data.params, key=lambda p: p.key),
            "user_tags": [t for t in tags if not t.key.startswith(SYSTEM_TAG_PREFIX)],
            "system_tags": [t for t in tags if t.key.startswith(SYSTEM_TAG_PREFIX)],
            "x": _x_axis(req),
            "browser": browser,
            "note": next((t.value for t in tags if t.key == manage.NOTE_TAG), None),
            "notice": manage.notice(req),
            "files_shown": shown,
            "logged_models": logged,
            "versions": _versions_from_run(req, run.info.run_id),
        },
    )


def _versions_from_run(req: UiRequest, run_id: str) -> list[Any]:
    registry = req.services.registry
    if registry is None:
        return []
    page = registry.search_model_versions(
        filter_string=f"run_id = {string_literal(run_id)}",
        max_results=100,
        order_by=["name ASC", "version_number DESC"],
    )
    return list(page.items)


# -- metric series (JSON for the charts) -------------------------------------------------------


def _bound(text: str, name: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameterValue(f"'{name}' must be a number, got {text!r}.") from None
    if not math.isfinite(value):
        raise InvalidParameterValue(f"'{name}' must be finite, got {text!r}.")
    return value


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def metric_series(req: UiRequest) -> Response:
    """GET /ui/series?key=&run=…&x=step|time&lo=&hi=: points for one chart.

    Every point up to `downsample.RAW_LIMIT` per run, M4 buckets beyond; x in
    steps or, with x=time, in seconds since the epoch (what the chart's time
    axis expects). `lo`/`hi` bound x in the same unit.
    """
    key = req.arg("key")
    if not key:
        raise InvalidParameterValue("Missing value for required parameter 'key'.")
    run_ids = list(dict.fromkeys(r for r in req.query.getlist("run") if r))
    if not run_ids:
        raise InvalidParameterValue("Missing value for required parameter 'run'.")
    if len(run_ids) > MAX_SERIES_RUNS:
        raise InvalidParameterValue(f"At most {MAX_SERIES_RUNS} runs per chart.")
    by_time = req.arg("x") == "time"
    scale = 1000.0 if by_time else 1.0
    lo, hi = _bound(req.arg("lo"), "lo"), _bound(req.arg("hi"), "hi")
    out = []
    for run_id in run_ids:
        info = req.services.tracking.get_run_info(run_id)
        points = queries.metric_points(
            req.services.db,
            run_id,
            key,
            by_time=by_time,
            lo=None if lo is None else math.floor(lo * scale),
            hi=None if hi is None else math.ceil(hi * scale),
        )
        series = downsample.for_chart(points)
        out.append(
            {
                "run_id": run_id,
                "name": info.run_name,
                "x": [x / scale for x in series.xs] if by_time else series.xs,
                "y": [_json_number(y) for y in series.ys],
                "total": series.total,
                "downsampled": series.downsampled,
            }
        )
    return json_response({"key": key, "x": "time" if by_time else "step", "series": out})


# -- artifacts ---------------------------------------------------------------------------------


def artifact_tree(req: UiRequest) -> Response:
    """Fragment: the children of one folder of a run's artifacts."""
    run_id = req.path_params["run_id"]
    req.services.tracking.get_run_info(run_id)
    return files.tree_fragment(files.run_source(req, run_id), req)


def artifact_preview(req: UiRequest) -> Response:
    """Fragment: the preview pane for one path of a run's artifacts."""
    run_id = req.path_params["run_id"]
    req.services.tracking.get_run_info(run_id)
    return files.preview_fragment(files.run_source(req, run_id), req)
