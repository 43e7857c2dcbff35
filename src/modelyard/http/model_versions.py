"""MLflow's model-versions endpoints: parse, call the registry service, serialise.

Also MLflow's `GET /model-versions/get-artifact?name=&version=&path=` (outside
the API prefix, as MLflow serves it for its UI), which streams one file from
the version's download location. `transition-stage` accepts an optional
`comment`, kept in the promotion history (MLflow clients never send it).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelyard.entities import Tag
from modelyard.http.args import Args
from modelyard.http.artifacts import READ_BELOW, file_response
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.serialize import page_json
from modelyard.registry_entities import ModelVersion

Json = dict[str, Any]


def tags_json(tags: tuple[Tag, ...]) -> list[Json]:
    return [{"key": t.key, "value": t.value} for t in tags]


def model_version_json(mv: ModelVersion) -> Json:
    """MLflow's ModelVersion as protobuf JSON (version as a string; run_id and
    run_link always present, "" when unknown, as MLflow's server sends them)."""
    out: Json = {
        "name": mv.name,
        "version": str(mv.version),
        "creation_timestamp": mv.creation_timestamp,
        "last_updated_timestamp": mv.last_updated_timestamp,
    }
    if mv.user_id is not None:
        out["user_id"] = mv.user_id
    out["current_stage"] = mv.current_stage
    if mv.description is not None:
        out["description"] = mv.description
    out["source"] = mv.source
    out["run_id"] = mv.run_id or ""
    out["status"] = mv.status
    if mv.status_message:
        out["status_message"] = mv.status_message
    if mv.tags:
        out["tags"] = tags_json(mv.tags)
    out["run_link"] = mv.run_link or ""
    if mv.aliases:
        out["aliases"] = list(mv.aliases)
    if mv.model_id:
        out["model_id"] = mv.model_id
    return out


def registry_tags(args: Args) -> list[Tag]:
    return [Tag(t.str("key"), t.opt_str("value", "") or "") for t in args.objects("tags")]


def create(ctx: Ctx, args: Args) -> Json:
    mv = ctx.services.registry.create_model_version(
        name=args.str("name"),
        source=args.str("source"),
        run_id=args.opt_str("run_id"),
        tags=registry_tags(args),
        run_link=args.opt_str("run_link"),
        description=args.opt_str("description"),
        model_id=args.opt_str("model_id"),
        user=ctx.identity.user,
    )
    return {"model_version": model_version_json(mv)}


def get(ctx: Ctx, args: Args) -> Json:
    mv = ctx.services.registry.get_model_version(args.str("name"), args.str("version"))
    return {"model_version": model_version_json(mv)}


def update(ctx: Ctx, args: Args) -> Json:
    # As MLflow: an update without a description clears it.
    mv = ctx.services.registry.update_model_version(
        args.str("name"), args.str("version"), args.opt_str("description")
    )
    return {"model_version": model_version_json(mv)}


def delete(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.delete_model_version(
        args.str("name"), args.str("version"), user=ctx.identity.user
    )


def search(ctx: Ctx, args: Args) -> Json:
    page = ctx.services.registry.search_model_versions(
        filter_string=args.opt_str("filter"),
        max_results=args.opt_int("max_results"),
        order_by=args.str_list("order_by"),
        page_token=args.opt_str("page_token"),
        visible=ctx.services.access.visibility(ctx.identity.user, "registered_model"),
    )
    return page_json(page, "model_versions", model_version_json)


def get_download_uri(ctx: Ctx, args: Args) -> Json:
    uri = ctx.services.registry.get_download_uri(args.str("name"), args.str("version"))
    return {"artifact_uri": uri}


def transition_stage(ctx: Ctx, args: Args) -> Json:
    mv = ctx.services.registry.transition_stage(
        args.str("name"),
        args.str("version"),
        args.str("stage"),
        archive_existing_versions=args.opt_bool("archive_existing_versions"),
        user=ctx.identity.user,
        comment=args.opt_str("comment"),
    )
    return {"model_version": model_version_json(mv)}


def set_tag(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.set_model_version_tag(
        args.str("name"), args.str("version"), args.str("key"), args.opt_str("value", "")
    )


def delete_tag(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.delete_model_version_tag(
        args.str("name"), args.str("version"), args.str("key")
    )


async def get_artifact(request: Request) -> Response:
    """GET /model-versions/get-artifact?name=&version=&path=: one file of a version."""
    query = request.query_params
    download = await run_in_threadpool(
        request.app.state.services.registry.model_version_artifact,
        query.get("name"),
        query.get("version"),
        query.get("path"),
        read_below=READ_BELOW,
    )
    return file_response(request, download)


ROUTES: list[RouteSpec] = [
    ("POST", "model-versions/create", create),
    ("GET", "model-versions/get", get),
    ("PATCH", "model-versions/update", update),
    ("DELETE", "model-versions/delete", delete),
    ("GET", "model-versions/search", search),
    ("GET", "model-versions/get-download-uri", get_download_uri),
    ("POST", "model-versions/transition-stage", transition_stage),
    ("POST", "model-versions/set-tag", set_tag),
    ("DELETE", "model-versions/delete-tag", delete_tag),
]

RAW_ROUTES: list[BaseRoute] = [
    Route("/model-versions/get-artifact", get_artifact, methods=["GET"]),
]
