"""Metric history endpoints: full (paginated) and sampled (bulk interval).

Both write their points straight from the store's rows: at 25,000 points a
page, one entity object and one helper call per point would cost more than
reading the rows.
"""

from __future__ import annotations

from typing import Any

from modelyard.http.args import Args, missing
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.jsonio import float_out
from modelyard.http.serialize import metric_json
from modelyard.points_entities import PointRow


def _points_json(key: str, rows: list[PointRow], run_id: str | None = None) -> list[Any]:
    # `v - v == 0` is False only for ±inf (NaN rows are stored as 0 with is_nan 1).
    if run_id is None:
        return [
            {
                "key": key,
                "value": v if not nan and v - v == 0 else float_out(float("nan") if nan else v),
                "timestamp": ts,
                "step": step,
            }
            for v, ts, step, nan in rows
        ]
    return [
        {
            "key": key,
            "value": v if not nan and v - v == 0 else float_out(float("nan") if nan else v),
            "timestamp": ts,
            "step": step,
            "run_id": run_id,
        }
        for v, ts, step, nan in rows
    ]


def get_history(ctx: Ctx, args: Args) -> dict[str, Any]:
    run_id = args.opt_str("run_id") or args.opt_str("run_uuid")
    if not run_id:
        raise missing("run_id")
    page, token = ctx.services.tracking.get_metric_points(
        run_id, args.str("metric_key"), args.opt_int("max_results"), args.opt_str("page_token")
    )
    out: dict[str, Any] = {}
    if page.rows:
        out["metrics"] = _points_json(page.key, page.rows)
    if token:
        out["next_page_token"] = token
    return out


def get_history_bulk(ctx: Ctx, args: Args) -> dict[str, Any]:
    """The MLflow UI's full history of one metric over several runs (`run_id`
    repeated in the query string)."""
    metrics = ctx.services.tracking.get_metric_history_bulk(
        args.str_list("run_id"), args.opt_str("metric_key"), args.opt_int("max_results")
    )
    return {"metrics": [metric_json(m, with_run_id=True) for m in metrics]}


def get_history_bulk_interval(ctx: Ctx, args: Args) -> dict[str, Any]:
    key = args.str("metric_key")
    samples = ctx.services.tracking.get_metric_history_bulk_interval(
        args.str_list("run_ids"),
        key,
        start_step=args.opt_int("start_step"),
        end_step=args.opt_int("end_step"),
        max_results=args.opt_int("max_results"),
    )
    points = [p for s in samples for p in _points_json(key, s.rows, s.run_id)]
    return {"metrics": points} if points else {}


ROUTES: list[RouteSpec] = [
    ("GET", "metrics/get-history", get_history),
    ("GET", "metrics/get-history-bulk-interval", get_history_bulk_interval),
    ("GET", "metrics/get-history-bulk", get_history_bulk),
]
