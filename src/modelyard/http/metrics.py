"""Metric history endpoints: full (paginated) and sampled (bulk interval)."""

from __future__ import annotations

from typing import Any

from modelyard.http.args import Args, missing
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.serialize import metric_json, page_json


def get_history(ctx: Ctx, args: Args) -> dict[str, Any]:
    run_id = args.opt_str("run_id") or args.opt_str("run_uuid")
    if not run_id:
        raise missing("run_id")
    page = ctx.services.tracking.get_metric_history(
        run_id, args.str("metric_key"), args.opt_int("max_results"), args.opt_str("page_token")
    )
    return page_json(page, "metrics", metric_json)


def get_history_bulk(ctx: Ctx, args: Args) -> dict[str, Any]:
    """The MLflow UI's full history of one metric over several runs (`run_id`
    repeated in the query string)."""
    metrics = ctx.services.tracking.get_metric_history_bulk(
        args.str_list("run_id"), args.opt_str("metric_key"), args.opt_int("max_results")
    )
    return {"metrics": [metric_json(m, with_run_id=True) for m in metrics]}


def get_history_bulk_interval(ctx: Ctx, args: Args) -> dict[str, Any]:
    metrics = ctx.services.tracking.get_metric_history_bulk_interval(
        args.str_list("run_ids"),
        args.str("metric_key"),
        start_step=args.opt_int("start_step"),
        end_step=args.opt_int("end_step"),
        max_results=args.opt_int("max_results"),
    )
    out: dict[str, Any] = {}
    if metrics:
        out["metrics"] = [metric_json(m, with_run_id=True) for m in metrics]
    return out


ROUTES: list[RouteSpec] = [
    ("GET", "metrics/get-history", get_history),
    ("GET", "metrics/get-history-bulk-interval", get_history_bulk_interval),
    ("GET", "metrics/get-history-bulk", get_history_bulk),
]
