"""An experiment's plots over its filtered runs: parallel coordinates and a scatter.

Both plot one value per run and column (a parameter, or a metric's latest
value), so the page carries its data with it, as a JSON data block the
page's script reads (not executed, so the CSP allows it): one search of up
to 1,000 runs, no further requests. Parameters that are not all numbers are
drawn as categories. Which columns are the axes, and which two the scatter
plots, are URL parameters, so a view can be shared.
"""

from __future__ import annotations

import math
from typing import Any

from modelyard.entities import RunInfo
from modelyard.errors import InvalidParameterValue
from modelyard.ui import run_query
from modelyard.ui.render import Page
from modelyard.ui.web import UiRequest

# Axes shown when the URL does not choose: the first few parameters, then metrics.
DEFAULT_PARAM_AXES = 4
DEFAULT_METRIC_AXES = 3
MAX_AXES = 30


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _columns(req: UiRequest, infos: list[RunInfo]) -> list[dict[str, Any]]:
    """Every parameter and metric of the runs, with one value per run (None when absent).

    Only the runs' parameters and latest metric values are read, as columns in
    the runs' order, not whole runs: hydrating 1,000 runs (tags, inputs,
    outputs) cost most of the page's time."""
    values = req.services.tracking.run_values([i.run_id for i in infos])
    out: list[dict[str, Any]] = []
    for key in sorted(values.params):
        raw = values.params[key]
        numbers = [None if v is None else _number(v) for v in raw]
        numeric = all(n is not None for n, v in zip(numbers, raw, strict=True) if v is not None)
        column: dict[str, Any] = {"id": f"params.{key}", "label": key, "kind": "param"}
        if numeric:
            column.update(numeric=True, values=numbers)
        else:
            categories = sorted({v for v in raw if v is not None})
            column.update(numeric=False, categories=categories, values=raw)
        out.append(column)
    for key in sorted(values.metrics):
        out.append(
            {
                "id": f"metrics.{key}",
                "label": key,
                "kind": "metric",
                "numeric": True,
                "values": [
                    v if v is not None and math.isfinite(v) else None for v in values.metrics[key]
                ],
            }
        )
    return out


def _default_axes(columns: list[dict[str, Any]]) -> list[str]:
    params = [c["id"] for c in columns if c["kind"] == "param"][:DEFAULT_PARAM_AXES]
    metrics = [c["id"] for c in columns if c["kind"] == "metric"][:DEFAULT_METRIC_AXES]
    return params + metrics


def plots_page(req: UiRequest) -> Page:
    tracking = req.services.tracking
    experiment = tracking.get_experiment(req.path_params["experiment_id"])
    query = run_query.read(req, run_query.CHART_SIZES)
    error = None
    runs: list[RunInfo] = []
    try:
        runs = run_query.run_infos(req, experiment.experiment_id, query).infos
    except InvalidParameterValue as exc:
        error = exc.message
    columns = _columns(req, runs)
    ids = [c["id"] for c in columns]
    chosen = [a for a in dict.fromkeys(req.query.getlist("axis")) if a in ids][:MAX_AXES]
    axes = chosen if req.arg("axes") == "1" else _default_axes(columns)
    metric_ids = [c["id"] for c in columns if c["kind"] == "metric"]
    scatter_x = req.arg("sx") if req.arg("sx") in ids else (ids[0] if ids else "")
    scatter_y = (
        req.arg("sy")
        if req.arg("sy") in ids
        else (metric_ids[0] if metric_ids else (ids[-1] if ids else ""))
    )
    data = {
        "runs": [
            {
                "id": r.run_id,
                "name": r.run_name or r.run_id,
                "color": n % run_query.PALETTE_SIZE,
            }
            for n, r in enumerate(runs)
        ],
        "columns": columns,
        "axes": axes,
        "scatter": [scatter_x, scatter_y],
    }
    return Page(
        "experiment_plots.html",
        {
            "experiment": experiment,
            "tab": "plots",
            "query": query,
            "state": query.state(),
            "runs": runs,
            "palette": run_query.PALETTE_SIZE,
            "columns": columns,
            "axes": axes,
            "scatter_x": scatter_x,
            "scatter_y": scatter_y,
            "sizes": run_query.CHART_SIZES,
            "data": data,
            "error": error,
        },
        status=400 if error else 200,
    )
