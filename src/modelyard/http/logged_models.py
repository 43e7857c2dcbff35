"""MLflow 3's logged-models endpoints, as the stock 3.x client calls them.

`POST logged-models/search` also answers the 3.x client's lookup for a plain
folder of a run's artifacts (see `modelyard.service.registry`). The UI's file
download, `GET /ajax-api/2.0/mlflow/logged-models/<id>/artifacts/files`, is
served as MLflow serves it.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelyard.entities import Param
from modelyard.http.args import Args
from modelyard.http.artifacts import READ_BELOW, file_response
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.model_versions import registry_tags, tags_json
from modelyard.http.serialize import metric_json, page_json
from modelyard.registry_entities import LoggedModel, LoggedModelStatus
from modelyard.store.artifacts import FileInfo

Json = dict[str, Any]


def logged_model_json(m: LoggedModel) -> Json:
    info: Json = {
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "creation_timestamp_ms": m.creation_timestamp,
        "last_updated_timestamp_ms": m.last_updated_timestamp,
        "artifact_uri": m.artifact_location,
        "status": LoggedModelStatus.PROTO.get(m.status, m.status),
    }
    if m.model_type:
        info["model_type"] = m.model_type
    if m.source_run_id:
        info["source_run_id"] = m.source_run_id
    if m.status_message:
        info["status_message"] = m.status_message
    if m.tags:
        info["tags"] = tags_json(m.tags)
    data: Json = {}
    if m.params:
        data["params"] = [{"key": p.key, "value": p.value} for p in m.params]
    if m.metrics:
        data["metrics"] = [metric_json(x, with_run_id=True) for x in m.metrics]
    return {"info": info, "data": data}


def _params(args: Args) -> list[Param]:
    return [Param(p.str("key"), p.opt_str("value", "") or "") for p in args.objects("params")]


def _model_id(ctx: Ctx) -> str:
    model_id: str = ctx.path_params["model_id"]
    return model_id


def create(ctx: Ctx, args: Args) -> Json:
    model = ctx.services.registry.create_logged_model(
        args.str("experiment_id"),
        name=args.opt_str("name") or None,
        model_type=args.opt_str("model_type"),
        source_run_id=args.opt_str("source_run_id"),
        params=_params(args),
        tags=registry_tags(args),
    )
    return {"model": logged_model_json(model)}


def get(ctx: Ctx, args: Args) -> Json:
    model = ctx.services.registry.get_logged_model(
        _model_id(ctx), allow_deleted=args.opt_bool("allow_deleted")
    )
    return {"model": logged_model_json(model)}


def finalize(ctx: Ctx, args: Args) -> Json:
    status = args.raw("status")
    if status is not None and not isinstance(status, (str, int)):
        status = str(status)
    model = ctx.services.registry.finalize_logged_model(_model_id(ctx), status)
    return {"model": logged_model_json(model)}


def delete(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.delete_logged_model(_model_id(ctx))


def search(ctx: Ctx, args: Args) -> Json:
    datasets = args.list("datasets")
    page = ctx.services.registry.search_logged_models(
        args.str_list("experiment_ids"),
        filter_string=args.opt_str("filter") or None,
        max_results=args.opt_int("max_results") or None,
        order_by=args.list("order_by"),
        page_token=args.opt_str("page_token") or None,
        datasets=[d for d in datasets if isinstance(d, dict)],
    )
    return page_json(page, "models", logged_model_json)


def set_tags(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.set_logged_model_tags(_model_id(ctx), registry_tags(args))


def delete_tag(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.delete_logged_model_tag(_model_id(ctx), ctx.path_params["tag_key"])


def log_params(ctx: Ctx, args: Args) -> None:
    ctx.services.registry.log_logged_model_params(_model_id(ctx), _params(args))


def _files_json(files: list[FileInfo]) -> list[Json]:
    out: list[Json] = []
    for info in files:
        item: Json = {"path": info.path, "is_dir": info.is_dir}
        if info.file_size is not None:
            item["file_size"] = info.file_size
        out.append(item)
    return out


def list_artifacts(ctx: Ctx, args: Args) -> Json:
    root_uri, files = ctx.services.registry.logged_model_artifacts(
        _model_id(ctx), args.opt_str("artifact_directory_path")
    )
    out: Json = {"root_uri": root_uri}
    if files:
        out["files"] = _files_json(files)
    return out


async def get_artifact(request: Request) -> Response:
    """GET /ajax-api/2.0/mlflow/logged-models/<id>/artifacts/files?artifact_file_path="""
    download = await run_in_threadpool(
        request.app.state.services.registry.logged_model_artifact,
        request.path_params["model_id"],
        request.query_params.get("artifact_file_path"),
        read_below=READ_BELOW,
    )
    return file_response(request, download)


ROUTES: list[RouteSpec] = [
    ("POST", "logged-models", create),
    ("POST", "logged-models/search", search),
    ("GET", "logged-models/{model_id}", get),
    ("PATCH", "logged-models/{model_id}", finalize),
    ("DELETE", "logged-models/{model_id}", delete),
    ("PATCH", "logged-models/{model_id}/tags", set_tags),
    ("DELETE", "logged-models/{model_id}/tags/{tag_key:path}", delete_tag),
    ("POST", "logged-models/{model_id}/params", log_params),
    ("GET", "logged-models/{model_id}/artifacts/directories", list_artifacts),
]

RAW_ROUTES: list[BaseRoute] = [
    Route(
        "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
        get_artifact,
        methods=["GET"],
    ),
]
