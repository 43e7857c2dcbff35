"""MLflow's registered-models endpoints (with aliases and latest versions):
parse, call the registry service, serialise."""

from __future__ import annotations

from typing import Any

from modelyard.http.args import Args
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.model_versions import model_version_json, registry_tags, tags_json
from modelyard.http.serialize import page_json
from modelyard.registry_entities import RegisteredModel

Json = dict[str, Any]


def registered_model_json(rm: RegisteredModel) -> Json:
    """MLflow's RegisteredModel as protobuf JSON: empty description and lists left out."""
    out: Json = {
        "name": rm.name,
        "creation_timestamp": rm.creation_timestamp,
        "last_updated_timestamp": rm.last_updated_timestamp,
    }
    if rm.description:
        out["description"] = rm.description
    if rm.latest_versions:
        out["latest_versions"] = [model_version_json(mv) for mv in rm.latest_versions]
    if rm.tags:
        out["tags"] = tags_json(rm.tags)
    if rm.aliases:
        out["aliases"] = [{"alias": a.alias, "version": str(a.version)} for a in rm.aliases]
    return out


def create(ctx: Ctx, args: Args) -> Json:
    rm = ctx.services.registry.create_registered_model(
        args.str("name"), registry_tags(args), args.opt_str("description")
    )
    ctx.services.access.record_creator(ctx.identity.user, "registered_model", rm.name)
    return {"registered_model": registered_model_json(rm)}


def get(ctx: Ctx, args: Args) -> Json:
    rm = ctx.services.registry.get_registered_model(args.str("name"))
    return {"registered_model": registered_model_json(rm)}


def rename(ctx: Ctx, args: Args) -> Json:
    rm = ctx.services.registry.rename_registered_model(args.str("name"), args.str("new_name"))
    return {"registered_model": registered_model_json(rm)}


def update(ctx: Ctx, args: Args) -> Json:
    rm = ctx.services.registry.update_registered_model(
        args.str("name"), args.opt_str("description")
    )
    return {"registered_model": registered_model_json(rm)}


def delete(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.delete_registered_model(args.str("name"))


def search(ctx: Ctx, args: Args) -> Json:
    page = ctx.services.registry.search_registered_models(
        filter_string=args.opt_str("filter"),
        max_results=args.opt_int("max_results"),
        order_by=args.str_list("order_by"),
        page_token=args.opt_str("page_token"),
        visible=ctx.services.access.visibility(ctx.identity.user, "registered_model"),
    )
    return page_json(page, "registered_models", registered_model_json)


def get_latest_versions(ctx: Ctx, args: Args) -> Json:
    versions = ctx.services.registry.get_latest_versions(args.str("name"), args.str_list("stages"))
    out: Json = {}
    if versions:
        out["model_versions"] = [model_version_json(mv) for mv in versions]
    return out


def set_tag(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.set_registered_model_tag(
        args.str("name"), args.str("key"), args.opt_str("value", "")
    )


def delete_tag(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.delete_registered_model_tag(args.str("name"), args.str("key"))


def set_alias(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.set_alias(
        args.str("name"),
        args.str("alias"),
        args.str("version"),
        user=ctx.identity.user,
        comment=args.opt_str("comment"),
    )


def delete_alias(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.delete_alias(args.str("name"), args.str("alias"), user=ctx.identity.user)


def get_by_alias(ctx: Ctx, args: Args) -> Json:
    mv = ctx.services.registry.get_version_by_alias(args.str("name"), args.str("alias"))
    return {"model_version": model_version_json(mv)}


ROUTES: list[RouteSpec] = [
    ("POST", "registered-models/create", create),
    ("GET", "registered-models/get", get),
    ("POST", "registered-models/rename", rename),
    ("PATCH", "registered-models/update", update),
    ("DELETE", "registered-models/delete", delete),
    ("GET", "registered-models/search", search),
    ("POST", "registered-models/get-latest-versions", get_latest_versions),
    ("GET", "registered-models/get-latest-versions", get_latest_versions),
    ("POST", "registered-models/set-tag", set_tag),
    ("DELETE", "registered-models/delete-tag", delete_tag),
    ("POST", "registered-models/alias", set_alias),
    ("GET", "registered-models/alias", get_by_alias),
    ("DELETE", "registered-models/alias", delete_alias),
]
