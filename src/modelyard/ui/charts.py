"""An experiment's charts view: one panel per metric, every listed run overlaid.

The page is cheap (run infos and the metric keys); each panel's points come
from `chart_panel` as JSON, one request per panel as it scrolls into view.
A panel overlays up to 1,000 runs, so its points are downsampled per run with
M4 (`ui.downsample`) to a budget shared by all its runs: a panel never sends
much more than `PANEL_POINT_BUDGET` points however many runs or steps there are.

Display choices (x axis, smoothing, log scale, which panels in which order)
live in the URL, so a view can be bookmarked and shared. Smoothing and the
log scale are applied by the page's script; the x axis is chosen here, since
relative time needs each run's start.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from modelyard.entities import RunInfo
from modelyard.errors import InvalidParameterValue
from modelyard.http.jsonio import json_response
from modelyard.ui import downsample, run_query
from modelyard.ui.render import Page, query_string
from modelyard.ui.web import UiRequest

X_AXES = ("step", "time", "relative")
X_LABELS = {"step": "Step", "time": "Wall time", "relative": "Relative time"}
# 1,000 runs of 50 steps fit whole (M4 would cost more than it saves there).
PANEL_POINT_BUDGET = 40_000
# However many runs share a panel, each keeps at least this many M4 buckets.
MIN_BUCKETS = 8
# A run's series this short is sent whole whatever the budget: bucketing it
# would cost more time than the points it saves.
RAW_PER_RUN = 100
MAX_PANELS = 100


def _x_axis(req: UiRequest) -> str:
    x = req.arg("x")
    return x if x in X_AXES else "step"


def _smoothing(req: UiRequest) -> float:
    try:
        value = float(req.arg("smooth") or 0)
    except ValueError:
        return 0.0
    return min(max(value, 0.0), 0.99) if math.isfinite(value) else 0.0


def _panels(req: UiRequest, keys: list[str]) -> list[str]:
    """The panels to show, in order: the URL's when it chooses, else every metric."""
    if req.arg("panels") != "1":
        return keys[:MAX_PANELS]
    return list(dict.fromkeys(k for k in req.query.getlist("panel") if k))[:MAX_PANELS]


def charts_page(req: UiRequest) -> Page:
    tracking = req.services.tracking
    experiment = tracking.get_experiment(req.path_params["experiment_id"])
    query = run_query.read(req, run_query.CHART_SIZES)
    error = None
    runs = run_query.RunSet([], None)
    try:
        runs = run_query.run_infos(req, experiment.experiment_id, query)
    except InvalidParameterValue as exc:
        error = exc.message
    keys = tracking.latest_metric_keys([i.run_id for i in runs.infos])
    panels = _panels(req, keys)
    view = {
        "x": _x_axis(req),
        "smooth": _smoothing(req),
        "log": req.arg("log") == "1",
    }
    state = query.state()
    display = {
        "x": view["x"] if view["x"] != "step" else None,
        "smooth": f"{view['smooth']:g}" if view["smooth"] else None,
        "log": "1" if view["log"] else None,
    }
    base = {**state, **display}
    return Page(
        "experiment_charts.html",
        {
            "experiment": experiment,
            "tab": "charts",
            "query": query,
            "state": state,
            "display": display,
            "panel_links": _panel_links(base, panels),
            "base": base,
            "view": view,
            "x_labels": X_LABELS,
            "runs": runs.infos,
            "palette": run_query.PALETTE_SIZE,
            "keys": keys,
            "panels": panels,
            "hidden": [k for k in keys if k not in panels],
            "sizes": run_query.CHART_SIZES,
            "next_token": runs.next_token,
            "error": error,
        },
        status=400 if error else 200,
    )


def _panel_links(base: dict[str, Any], panels: list[str]) -> list[dict[str, Any]]:
    """Per panel, the URLs that move it up, down or hide it (plain links: no script needed)."""

    def url(order: list[str]) -> str:
        return query_string({**base, "panels": "1", "panel": order}) or "?panels=1"

    out = []
    for i, key in enumerate(panels):
        up = down = None
        if i > 0:
            up = url([*panels[: i - 1], key, panels[i - 1], *panels[i + 1 :]])
        if i < len(panels) - 1:
            down = url([*panels[:i], panels[i + 1], key, *panels[i + 2 :]])
        out.append({"key": key, "up": up, "down": down, "hide": url(panels[:i] + panels[i + 1 :])})
    return out


def _x_values(xs: Sequence[int], x: str, info: RunInfo) -> Sequence[float]:
    """A run's x values in the axis's unit: steps, or seconds (since the epoch or
    the run's start). The store returns them sorted already."""
    if x == "step":
        return xs
    start = 0 if x == "time" else (info.start_time if info.start_time is not None else xs[0])
    return [(t - start) / 1000 for t in xs]


def _json_numbers(values: Sequence[float]) -> Sequence[float | None]:
    """JSON has no NaN or infinity: those become null (a gap in the line).

    One C-level sum tells whether any is NaN or infinite (then the sum is not
    finite); a sum that overflows is infinite too and takes the per-value path.
    Not `math.fsum`: it raises OverflowError on values near the double's limit."""
    if math.isfinite(sum(values)):
        return values
    return [v if math.isfinite(v) else None for v in values]


def chart_panel(req: UiRequest) -> Response:
    """GET /ui/experiments/{id}/chart-panel?key=&x=&<run query>: one panel's points.

    `kind` is "bar" when no run has more than one point of the metric (a
    single value per run: a lone dot on a line chart says nothing), with each
    run's value; otherwise "line", with each run's (downsampled) series.
    """
    key = req.arg("key")
    if not key:
        raise InvalidParameterValue("Missing value for required parameter 'key'.")
    x = _x_axis(req)
    tracking = req.services.tracking
    experiment = tracking.get_experiment(req.path_params["experiment_id"])
    runs = run_query.run_infos(
        req, experiment.experiment_id, run_query.read(req, run_query.CHART_SIZES)
    )
    by_id = {i.run_id: (n, i) for n, i in enumerate(runs.infos)}
    points = tracking.metric_points_for_runs(
        list(by_id), key, "step" if x == "step" else "timestamp"
    )
    single = all(len(p.xs) <= 1 for p in points.values())
    series: list[dict[str, Any]] = []
    with_data = max(len(points), 1)
    buckets = max(MIN_BUCKETS, PANEL_POINT_BUDGET // (4 * with_data))
    raw_limit = max(RAW_PER_RUN, buckets * 4)
    for run_id, (index, info) in by_id.items():
        run_points = points.get(run_id)
        if run_points is None:
            continue
        entry: dict[str, Any] = {
            "run_id": run_id,
            "name": info.run_name or run_id,
            "color": index % run_query.PALETTE_SIZE,
        }
        if single:
            entry["value"] = _json_numbers(run_points.ys[:1])[0]
        else:
            line = downsample.columns_for_chart(
                _x_values(run_points.xs, x, info),
                run_points.ys,
                raw_limit=raw_limit,
                buckets=buckets,
            )
            entry.update(
                x=line.xs,
                y=_json_numbers(line.ys),
                total=line.total,
                downsampled=line.downsampled,
            )
        series.append(entry)
    return json_response(
        {"key": key, "x": x, "kind": "bar" if single else "line", "series": series}
    )
