"""MLflow's runs endpoints: parse, call the tracking service, serialise."""

from __future__ import annotations

from typing import Any

from modelyard.entities import Dataset, DatasetInput, Metric, ModelIO, Param, Tag
from modelyard.http.args import Args, invalid, missing
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.serialize import page_json, run_info_json, run_json
from modelyard.points_entities import MetricRow


def _run_id(args: Args) -> str:
    # MLflow still accepts the pre-1.0 name run_uuid wherever run_id goes.
    run_id = args.opt_str("run_id") or args.opt_str("run_uuid")
    if not run_id:
        raise missing("run_id")
    return run_id


def _tags(args: Args, name: str = "tags") -> list[Tag]:
    return [Tag(t.str("key"), t.opt_str("value", "") or "") for t in args.objects(name)]


def _metric(a: Args) -> Metric:
    return Metric(
        key=a.str("key"),
        value=a.float("value"),
        timestamp=a.int("timestamp"),
        step=a.opt_int("step", 0) or 0,
        model_id=a.opt_str("model_id") or None,
        dataset_name=a.opt_str("dataset_name") or None,
        dataset_digest=a.opt_str("dataset_digest") or None,
    )


def _metric_rows(args: Args) -> tuple[list[MetricRow], list[Metric]]:
    """Metrics of a log-batch as rows (key, value, timestamp, step), straight
    from the parsed JSON: no object per point. The common shape (key, number,
    int timestamp and step, nothing else) is read directly; anything else takes
    the general, fully checked path, which also words the errors. Metrics that
    name a logged model (or dataset) are returned as `Metric`s as well, for the
    service to record against the model."""
    rows: list[MetricRow] = []
    append = rows.append
    extra: list[Metric] = []
    for i, item in enumerate(args.list("metrics")):
        if type(item) is dict:
            get = item.get
            key = get("key")
            value = get("value")
            ts = get("timestamp")
            step = get("step")
            # Exactly these fields (step optional): anything more takes the general path.
            if (
                type(key) is str
                and type(ts) is int
                and (type(value) is float or (type(value) is int and -(2**63) < value < 2**63))
                and len(item) == (3 if step is None else 4)
                and (step is None or type(step) is int)
            ):
                append((key, float(value), ts, 0 if step is None else step))
                continue
        if not isinstance(item, dict):
            raise invalid("metrics", item, "each item must be a JSON object")
        m = _metric(Args(item, path=f"metrics[{i}]"))
        append((m.key, m.value, m.timestamp, m.step))
        if m.model_id or m.dataset_name or m.dataset_digest:
            extra.append(m)
    return rows, extra


def create(ctx: Ctx, args: Args) -> dict[str, Any]:
    run = ctx.services.tracking.create_run(
        experiment_id=args.opt_str("experiment_id"),
        user_id=args.opt_str("user_id"),
        start_time=args.opt_int("start_time"),
        run_name=args.opt_str("run_name"),
        tags=_tags(args),
    )
    return {"run": run_json(run)}


def get(ctx: Ctx, args: Args) -> dict[str, Any]:
    return {"run": run_json(ctx.services.tracking.get_run(_run_id(args)))}


def update(ctx: Ctx, args: Args) -> dict[str, Any]:
    info = ctx.services.tracking.update_run(
        _run_id(args),
        status=args.opt_str("status"),
        end_time=args.opt_int("end_time"),
        run_name=args.opt_str("run_name"),
    )
    return {"run_info": run_info_json(info)}


def delete(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.delete_run(args.str("run_id"))


def restore(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.restore_run(args.str("run_id"))


def log_metric(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.log_metric(_run_id(args), _metric(args))


def log_param(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.log_param(_run_id(args), args.str("key"), args.opt_str("value", "") or "")


def set_tag(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.set_tag(_run_id(args), args.str("key"), args.opt_str("value", "") or "")


def delete_tag(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.delete_tag(args.str("run_id"), args.str("key"))


def log_batch(ctx: Ctx, args: Args) -> None:
    rows, model_metrics = _metric_rows(args)
    params = [Param(p.str("key"), p.opt_str("value", "") or "") for p in args.objects("params")]
    ctx.services.tracking.log_batch_rows(
        args.str("run_id"), rows, params, _tags(args), model_metrics=model_metrics
    )


def log_inputs(ctx: Ctx, args: Args) -> None:
    datasets = []
    for item in args.objects("datasets"):
        raw = item.raw("dataset")
        if not isinstance(raw, dict):
            raise missing("datasets.dataset")
        d = Args(raw)
        datasets.append(
            DatasetInput(
                Dataset(
                    name=d.opt_str("name", "") or "",
                    digest=d.opt_str("digest", "") or "",
                    source_type=d.opt_str("source_type", "") or "",
                    source=d.opt_str("source", "") or "",
                    schema=d.opt_str("schema"),
                    profile=d.opt_str("profile"),
                ),
                tuple(_tags(item)),
            )
        )
    models = [ModelIO(m.str("model_id")) for m in args.objects("models")]
    ctx.services.tracking.log_inputs(args.str("run_id"), datasets, models)


def log_outputs(ctx: Ctx, args: Args) -> None:
    if not args.list("models"):
        raise missing("models")
    models = [ModelIO(m.str("model_id"), m.opt_int("step")) for m in args.objects("models")]
    ctx.services.tracking.log_outputs(args.str("run_id"), models)


def log_model(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.record_logged_model(_run_id(args), args.str("model_json"))


def search(ctx: Ctx, args: Args) -> dict[str, Any]:
    page = ctx.services.tracking.search_runs(
        experiment_ids=args.str_list("experiment_ids"),
        filter_string=args.opt_str("filter"),
        view_type=args.opt_str("run_view_type"),
        max_results=args.opt_int("max_results"),
        order_by=args.str_list("order_by"),
        page_token=args.opt_str("page_token"),
    )
    return page_json(page, "runs", run_json)


ROUTES: list[RouteSpec] = [
    ("POST", "runs/create", create),
    ("GET", "runs/get", get),
    ("POST", "runs/update", update),
    ("POST", "runs/delete", delete),
    ("POST", "runs/restore", restore),
    ("POST", "runs/log-metric", log_metric),
    ("POST", "runs/log-parameter", log_param),
    ("POST", "runs/set-tag", set_tag),
    ("POST", "runs/delete-tag", delete_tag),
    ("POST", "runs/log-batch", log_batch),
    ("POST", "runs/log-inputs", log_inputs),
    ("POST", "runs/outputs", log_outputs),
    ("POST", "runs/log-model", log_model),
    ("POST", "runs/search", search),
]
