"""The run page: params, metrics and their charts, tags, artifacts, registered versions.

Charts get their points from `metric_series` as JSON, one request per chart,
so the page itself stays as fast with a 100,000-point metric as with ten, and
zooming in asks for the visible range again (raw points once few enough).
The artifact browser is server-rendered (deep link: `?artifact=path`); the
page's script swaps in the `_artifact_*.html` fragments instead of reloading.
"""

from __future__ import annotations

import json
import math
import posixpath
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from modelyard.entities import Run
from modelyard.errors import InvalidParameterValue, ModelyardError
from modelyard.http.artifacts import guess_mime_type
from modelyard.http.jsonio import json_response
from modelyard.store.artifacts import FileInfo, clean_artifact_path
from modelyard.ui import downsample, queries
from modelyard.ui.render import Page, render_fragment
from modelyard.ui.search import string_literal
from modelyard.ui.web import UiRequest

PREVIEW_LIMIT = 512 * 1024
IMAGE_TYPES = frozenset({"png", "jpg", "jpeg", "gif", "webp", "bmp", "svg"})
JSON_TYPES = frozenset({"json"})
YAML_NAMES = frozenset({"yaml", "yml", "MLmodel", "MLproject"})
SYSTEM_TAG_PREFIX = "mlflow."
MAX_SERIES_RUNS = 20


def _x_axis(req: UiRequest) -> str:
    return "time" if req.arg("x") == "time" else "step"


def run_page(req: UiRequest) -> Page:
    services = req.services
    run: Run = services.tracking.get_run(req.path_params["run_id"])
    experiment = services.tracking.get_experiment(run.info.experiment_id)
    selected = req.arg("artifact")
    tree, preview, artifacts_error = _artifact_view(req, run.info.run_id, selected)
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
            "tree": tree,
            "preview": preview,
            "selected": selected,
            "artifacts_error": artifacts_error,
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


@dataclass(frozen=True, slots=True)
class Entry:
    """A row of the artifact tree; `children` is None for a folder not expanded."""

    path: str
    name: str
    is_dir: bool
    size: int | None
    children: list[Entry] | None = None


def _entries(files: list[FileInfo]) -> list[Entry]:
    items = [Entry(f.path, posixpath.basename(f.path), f.is_dir, f.file_size) for f in files]
    return sorted(items, key=lambda e: (not e.is_dir, e.name.lower()))


def _listing(req: UiRequest, run_id: str, path: str) -> list[Entry]:
    _, files = req.services.artifacts.list_run_artifacts(run_id, path)
    return _entries(files)


def _artifact_view(
    req: UiRequest, run_id: str, selected: str
) -> tuple[list[Entry], dict[str, Any] | None, str | None]:
    """The tree with the selected path's folders expanded, and its preview."""
    if req.services.artifacts is None:
        return [], None, "This server does not serve artifacts."
    try:
        selected = clean_artifact_path(selected)
        root = _listing(req, run_id, "")
        expanded = _expand(req, run_id, root, selected)
        preview = _preview(req, run_id, selected) if selected else None
    except ModelyardError as exc:
        return [], None, exc.message
    return expanded, preview, None


def _expand(req: UiRequest, run_id: str, level: list[Entry], selected: str) -> list[Entry]:
    out = []
    for entry in level:
        if entry.is_dir and (selected == entry.path or selected.startswith(entry.path + "/")):
            children = _expand(req, run_id, _listing(req, run_id, entry.path), selected)
            entry = Entry(entry.path, entry.name, True, None, children)
        out.append(entry)
    return out


def _kind(name: str) -> str:
    ext = posixpath.splitext(name)[1].lstrip(".").lower() or name
    if ext in IMAGE_TYPES:
        return "image"
    if ext in JSON_TYPES:
        return "json"
    if ext in YAML_NAMES or name in YAML_NAMES:
        return "yaml"
    if guess_mime_type(name).startswith("text/"):
        return "text"
    return "other"


def _preview(req: UiRequest, run_id: str, path: str) -> dict[str, Any]:
    """What the preview pane shows for `path`: a folder listing or a file's content."""
    name = posixpath.basename(path)
    info: dict[str, Any] = {"path": path, "name": name, "run_id": run_id, "content": None}
    try:
        download = req.services.artifacts.download_run_artifact(
            run_id, path, read_below=PREVIEW_LIMIT + 1
        )
    except InvalidParameterValue:
        children = _listing(req, run_id, path)
        return {**info, "kind": "dir", "children": children}
    stored = download.file
    kind = _kind(name)
    info.update(kind=kind, size=stored.size)
    if kind == "image":
        return info
    content = stored.content
    if content is None and stored.size == 0:
        content = b""
    if content is None:
        return {**info, "kind": "large"}
    if b"\0" in content[:8192]:
        return {**info, "kind": "binary"}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return {**info, "kind": "binary"}
    if kind == "json":
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            kind = "text"
    elif kind == "other":
        kind = "text"
    return {**info, "kind": kind, "content": text}


def artifact_tree(req: UiRequest) -> Response:
    """Fragment: the children of one folder, for the tree's lazy expansion."""
    run_id = req.path_params["run_id"]
    req.services.tracking.get_run_info(run_id)
    path = clean_artifact_path(req.arg("path"))
    entries = _listing(req, run_id, path)
    return render_fragment("_artifact_tree.html", entries=entries, run_id=run_id, selected="")


def artifact_preview(req: UiRequest) -> Response:
    """Fragment: the preview pane for one path."""
    run_id = req.path_params["run_id"]
    req.services.tracking.get_run_info(run_id)
    path = clean_artifact_path(req.arg("path"), allow_root=False)
    return render_fragment("_artifact_preview.html", preview=_preview(req, run_id, path))
