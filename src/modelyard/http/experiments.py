"""MLflow's experiments endpoints: parse, call the tracking service, serialise."""

from __future__ import annotations

from typing import Any

from modelyard.entities import Tag
from modelyard.http.args import Args
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.serialize import experiment_json, page_json


def _tags(args: Args) -> list[Tag]:
    return [Tag(t.str("key"), t.opt_str("value", "") or "") for t in args.objects("tags")]


def create(ctx: Ctx, args: Args) -> dict[str, Any]:
    exp_id = ctx.services.tracking.create_experiment(
        args.str("name"), args.opt_str("artifact_location"), _tags(args)
    )
    ctx.services.access.record_creator(ctx.identity.user, "experiment", exp_id)
    return {"experiment_id": exp_id}


def get(ctx: Ctx, args: Args) -> dict[str, Any]:
    exp = ctx.services.tracking.get_experiment(args.str("experiment_id"))
    return {"experiment": experiment_json(exp)}


def get_by_name(ctx: Ctx, args: Args) -> dict[str, Any]:
    exp = ctx.services.tracking.get_experiment_by_name(args.str("experiment_name"))
    return {"experiment": experiment_json(exp)}


def search(ctx: Ctx, args: Args) -> dict[str, Any]:
    page = ctx.services.tracking.search_experiments(
        view_type=args.opt_str("view_type"),
        max_results=args.opt_int("max_results"),
        filter_string=args.opt_str("filter"),
        order_by=args.str_list("order_by"),
        page_token=args.opt_str("page_token"),
        visible=ctx.services.access.visibility(ctx.identity.user, "experiment"),
    )
    return page_json(page, "experiments", experiment_json)


def update(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.rename_experiment(args.str("experiment_id"), args.str("new_name"))


def delete(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.delete_experiment(args.str("experiment_id"))


def restore(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.restore_experiment(args.str("experiment_id"))


def set_tag(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.set_experiment_tag(
        args.str("experiment_id"), args.str("key"), args.opt_str("value", "") or ""
    )


def delete_tag(ctx: Ctx, args: Args) -> None:
    ctx.services.tracking.delete_experiment_tag(args.str("experiment_id"), args.str("key"))


ROUTES: list[RouteSpec] = [
    ("POST", "experiments/create", create),
    ("GET", "experiments/get", get),
    ("GET", "experiments/get-by-name", get_by_name),
    ("GET", "experiments/search", search),
    ("POST", "experiments/search", search),
    ("POST", "experiments/update", update),
    ("POST", "experiments/delete", delete),
    ("POST", "experiments/restore", restore),
    ("POST", "experiments/set-experiment-tag", set_tag),
    ("POST", "experiments/delete-experiment-tag", delete_tag),
]
