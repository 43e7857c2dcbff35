"""The experiment view: experiments list, one experiment's runs table, run comparison.

Runs are paged by the tracking service's search (filter, order, page token),
so a page costs the same at 100 runs as at 100,000: the table never loads
more than one page of runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.entities import Run
from modelyard.errors import InvalidParameterValue
from modelyard.registry_entities import ModelVersion
from modelyard.service import search_filter as sf
from modelyard.ui import manage, queries
from modelyard.ui.render import Page
from modelyard.ui.search import (
    RUN_ATTRIBUTE_ORDER,
    Ordering,
    field_name,
    name_contains,
    string_literal,
)
from modelyard.ui.web import UiRequest

EXPERIMENTS_PER_PAGE = 100
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
# Columns shown when the URL does not choose: the first few keys of the page.
DEFAULT_KEY_COLUMNS = 6
MAX_COMPARED_RUNS = 20
MODELS_PER_PAGE = 1000
# The runs table's column groups, in order, with their header labels.
COLUMN_GROUPS = {"metrics": "Metrics", "params": "Parameters", "tags": "Tags"}
# Tags the runs table never offers as columns: MLflow's own (run name, source, user …).
SYSTEM_TAG_PREFIX = "mlflow."


def _offset(token: str) -> int:
    return sf.decode_page_token(token) if token else 0


def _token(offset: int) -> str | None:
    return sf.encode_page_token(offset) if offset > 0 else None


# -- experiments list ---------------------------------------------------------------------


def experiments_list(req: UiRequest) -> Page:
    q = req.arg("q")
    token = req.arg("page")
    deleted = req.arg("deleted") == "1"
    tracking = req.services.tracking
    error = None
    try:
        page = tracking.search_experiments(
            view_type="DELETED_ONLY" if deleted else None,
            max_results=EXPERIMENTS_PER_PAGE,
            filter_string=name_contains(q),
            order_by=["name ASC"],
            page_token=token or None,
            visible=req.services.access.visibility(req.user, "experiment"),
        )
        experiments = page.items
        next_token = page.next_page_token
    except InvalidParameterValue as exc:
        error, experiments, next_token = exc.message, [], None
    activity = queries.experiment_activity(req.services.db, [e.experiment_id for e in experiments])
    rows = []
    for exp in experiments:
        act = activity[exp.experiment_id]
        stamps = [t for t in (act.last_run_start, exp.last_update_time) if t is not None]
        rows.append(
            {"experiment": exp, "runs": act.run_count, "last": max(stamps) if stamps else None}
        )
    offset = _offset(token) if not error else 0
    total_runs = sum(r["runs"] for r in rows)
    return Page(
        "experiments.html",
        {
            "q": q,
            "deleted": deleted,
            "notice": manage.notice(req),
            "rows": rows,
            "error": error,
            "next_token": next_token,
            "prev_token": _token(offset - EXPERIMENTS_PER_PAGE),
            "has_prev": offset > 0,
            "first_use": not q
            and not deleted
            and offset == 0
            and total_runs == 0
            and len(rows) <= 1,
        },
    )


# -- one experiment -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    kind: str  # "metrics" | "params" | "tags"
    key: str

    @property
    def id(self) -> str:
        return f"{self.kind}.{self.key}"

    @property
    def field(self) -> str:
        return field_name(self.kind, self.key)


def _columns_from_arg(values: Sequence[str]) -> list[Column]:
    out: list[Column] = []
    for value in values:
        kind, _, key = value.partition(".")
        if kind in COLUMN_GROUPS and key and Column(kind, key) not in out:
            out.append(Column(kind, key))
    return out


def _default_columns(runs: Sequence[Run], ordering: Ordering | None) -> list[Column]:
    metrics = sorted({m.key for r in runs for m in r.data.metrics})
    params = sorted({p.key for r in runs for p in r.data.params})
    cols = [Column("metrics", k) for k in metrics[:DEFAULT_KEY_COLUMNS]]
    cols += [Column("params", k) for k in params[:DEFAULT_KEY_COLUMNS]]
    if ordering is not None:
        for col in [Column("metrics", k) for k in metrics] + [Column("params", k) for k in params]:
            if col.field == ordering.field and col not in cols:
                cols.append(col)
    return cols


def _page_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def experiment_page(req: UiRequest) -> Page:
    tracking = req.services.tracking
    experiment = tracking.get_experiment(req.path_params["experiment_id"])
    filter_text = req.arg("filter")
    order_text = req.arg("order")
    ordering = Ordering.parse(order_text)
    size = _page_size(req.arg("size"))
    token = req.arg("page")
    error = None
    runs: list[Run] = []
    next_token = None
    offset = 0
    try:
        offset = _offset(token)
        page = tracking.search_runs(
            [experiment.experiment_id],
            filter_string=filter_text or None,
            max_results=size,
            order_by=[ordering.clause] if ordering else [],
            page_token=token or None,
        )
        runs, next_token = page.items, page.next_page_token
    except InvalidParameterValue as exc:
        error = exc.message
    chosen = _columns_from_arg(req.query.getlist("col"))
    columns = chosen if req.arg("cols") == "1" else _default_columns(runs, ordering)
    available = sorted(
        {Column("metrics", m.key) for r in runs for m in r.data.metrics}
        | {Column("params", p.key) for r in runs for p in r.data.params}
        | {
            Column("tags", t.key)
            for r in runs
            for t in r.data.tags
            if not t.key.startswith(SYSTEM_TAG_PREFIX)
        }
        | set(columns),
        key=lambda c: (list(COLUMN_GROUPS).index(c.kind), c.key),
    )
    groups = [
        (label, [c for c in columns if c.kind == kind]) for kind, label in COLUMN_GROUPS.items()
    ]
    models = _models_by_run(req, [r.info.run_id for r in runs])
    total = queries.experiment_activity(req.services.db, [experiment.experiment_id])[
        experiment.experiment_id
    ].run_count
    state = {
        "filter": filter_text,
        "order": order_text,
        "size": size if size != DEFAULT_PAGE_SIZE else None,
        "col": [c.id for c in columns] if req.arg("cols") == "1" else None,
        "cols": "1" if req.arg("cols") == "1" else None,
    }
    return Page(
        "experiment.html",
        {
            "experiment": experiment,
            "tab": "runs",
            "notice": manage.notice(req),
            "runs": [_run_row(r, models.get(r.info.run_id, [])) for r in runs],
            "columns": [c for _, cols in groups for c in cols],
            "groups": [(label, cols) for label, cols in groups if cols],
            "numeric": _numeric_columns(columns, runs),
            "available": available,
            "attribute_order": RUN_ATTRIBUTE_ORDER,
            "ordering": ordering,
            "state": state,
            "error": error,
            "total": total,
            "offset": offset,
            "size": size,
            "page_sizes": PAGE_SIZES,
            "next_token": next_token,
            "prev_token": _token(offset - size),
            "has_prev": offset > 0,
        },
        status=400 if error else 200,
    )


def _run_row(run: Run, models: list[ModelVersion]) -> dict[str, Any]:
    return {
        "info": run.info,
        "params": {p.key: p.value for p in run.data.params},
        "metrics": {m.key: m.value for m in run.data.metrics},
        "tags": {t.key: t.value for t in run.data.tags},
        "models": models,
    }


def looks_numeric(value: str | None) -> bool:
    """Whether a parameter or tag reads as a number (right-aligned like metrics)."""
    if value is None:
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _numeric_columns(columns: Sequence[Column], runs: Sequence[Run]) -> set[str]:
    """Columns whose every value on the page reads as a number: right-aligned, as metrics."""
    out = {c.id for c in columns if c.kind == "metrics"}
    for c in columns:
        if c.kind == "params":
            values = [p.value for r in runs for p in r.data.params if p.key == c.key]
        elif c.kind == "tags":
            values = [t.value for r in runs for t in r.data.tags if t.key == c.key]
        else:
            continue
        if values and all(looks_numeric(v) for v in values):
            out.add(c.id)
    return out


def _models_by_run(req: UiRequest, run_ids: list[str]) -> dict[str, list[ModelVersion]]:
    """The versions registered from each run of the page: one search for the page."""
    registry = req.services.registry
    if registry is None or not run_ids:
        return {}
    ids = ", ".join(string_literal(r) for r in run_ids)
    out: dict[str, list[ModelVersion]] = {}
    token: str | None = None
    while True:
        page = registry.search_model_versions(
            filter_string=f"run_id IN ({ids})",
            max_results=MODELS_PER_PAGE,
            order_by=["name ASC", "version_number DESC"],
            page_token=token,
        )
        for mv in page.items:
            out.setdefault(mv.run_id or "", []).append(mv)
        token = page.next_page_token
        if not token:
            return out


# -- compare runs ------------------------------------------------------------------------------


def compare_page(req: UiRequest) -> Page:
    ids = list(dict.fromkeys(i for i in req.query.getlist("run") if i))
    if not ids:
        raise InvalidParameterValue(
            "Choose runs to compare: tick them in an experiment's runs table, then press 'Compare'."
        )
    if len(ids) > MAX_COMPARED_RUNS:
        raise InvalidParameterValue(
            f"At most {MAX_COMPARED_RUNS} runs can be compared at once; {len(ids)} were chosen."
        )
    tracking = req.services.tracking
    runs = [tracking.get_run(i) for i in ids]
    param_keys = sorted({p.key for r in runs for p in r.data.params})
    metric_keys = sorted({m.key for r in runs for m in r.data.metrics})
    params = [{p.key: p.value for p in r.data.params} for r in runs]
    metrics = [{m.key: m.value for m in r.data.metrics} for r in runs]
    param_rows = [
        {
            "key": key,
            "values": [p.get(key) for p in params],
            "differs": len({p.get(key) for p in params}) > 1,
        }
        for key in param_keys
    ]
    metric_rows = [
        {
            "key": key,
            "values": [m.get(key) for m in metrics],
            "differs": len({m.get(key) for m in metrics}) > 1,
        }
        for key in metric_keys
    ]
    experiments = {r.info.experiment_id for r in runs}
    experiment = (
        tracking.get_experiment(runs[0].info.experiment_id) if len(experiments) == 1 else None
    )
    return Page(
        "compare.html",
        {
            "runs": runs,
            "param_rows": param_rows,
            "metric_rows": metric_rows,
            "metric_keys": metric_keys,
            "experiment": experiment,
            "x": "time" if req.arg("x") == "time" else "step",
            "only_diff": req.arg("diff") == "1",
        },
    )
