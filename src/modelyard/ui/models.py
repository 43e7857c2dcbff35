"""The deployment view: registered models, one model's versions and history, a version.

Every write here goes through `RegistryService`, the same calls the REST API
makes, so the UI cannot bypass a rule: the stage policy (Staging and
Production hold one version each; the replaced one is archived), alias
validation and the promotion history all live there. Writes are POST forms
answered with a 303 redirect; a move of stage or alias first shows a
confirmation page saying exactly what will happen.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from modelyard.errors import InvalidParameterValue, ModelyardError, ResourceDoesNotExist
from modelyard.http.artifacts import content_disposition, file_response
from modelyard.integrity_entities import Manifest
from modelyard.registry_entities import ModelVersion, RegisteredModel, Stage
from modelyard.service import search_filter as sf
from modelyard.service.artifacts import ArtifactLocation, Download
from modelyard.service.registry_validation import canonical_stage, validate_alias
from modelyard.store.artifacts import clean_artifact_path
from modelyard.ui import approvals, files, logged_models
from modelyard.ui.render import Page, url_quote
from modelyard.ui.search import name_contains, string_literal
from modelyard.ui.web import UiRequest, redirect

MODELS_PER_PAGE = 100
VERSIONS_PER_PAGE = 100
HISTORY_PER_PAGE = 50

# What a redirect's `done=` shows: fixed texts, so a link cannot put words on the page.
NOTICES = {
    "stage": "Stage changed.",
    "alias-set": "Alias set.",
    "alias-deleted": "Alias removed.",
    "description": "Description saved.",
    "tag-set": "Tag saved.",
    "tag-deleted": "Tag removed.",
    "renamed": "Model renamed.",
    "model-deleted": "Model deleted.",
}


def _registry(req: UiRequest) -> Any:
    registry = req.services.registry
    if registry is None:
        raise ResourceDoesNotExist("This server has no model registry.")
    return registry


def version_url(name: str, version: int | str, suffix: str = "") -> str:
    return f"/models/{url_quote(name)}/versions/{version}{suffix}"


def _summary(model: RegisteredModel) -> dict[str, Any]:
    """Latest, Staging and Production of a model from its per-stage latest versions."""
    latest = max(model.latest_versions, key=lambda mv: mv.version, default=None)
    by_stage: dict[str, list[ModelVersion]] = {}
    for mv in model.latest_versions:
        by_stage.setdefault(mv.current_stage, []).append(mv)
    return {
        "model": model,
        "latest": latest,
        "staging": by_stage.get(Stage.STAGING, []),
        "production": by_stage.get(Stage.PRODUCTION, []),
    }


# -- pages ------------------------------------------------------------------------------------


def models_list(req: UiRequest) -> Page:
    registry = _registry(req)
    q = req.arg("q")
    token = req.arg("page")
    error = None
    models: list[RegisteredModel] = []
    next_token = None
    try:
        page = registry.search_registered_models(
            filter_string=name_contains(q),
            max_results=MODELS_PER_PAGE,
            order_by=["name ASC"],
            page_token=token or None,
            visible=req.services.access.visibility(req.user, "registered_model"),
        )
        models, next_token = page.items, page.next_page_token
    except InvalidParameterValue as exc:
        error = exc.message
    offset = sf.decode_page_token(token) if token and not error else 0
    prev = offset - MODELS_PER_PAGE
    return Page(
        "models.html",
        {
            "q": q,
            "rows": [_summary(m) for m in models],
            "open_requests": approvals.open_request_counts(req, [m.name for m in models]),
            "error": error,
            "next_token": next_token,
            "prev_token": sf.encode_page_token(prev) if prev > 0 else None,
            "has_prev": offset > 0,
            "notice": _notice(req),
        },
    )


def model_page(req: UiRequest) -> Page:
    registry = _registry(req)
    name = req.path_params["name"]
    model = registry.get_registered_model(name)
    versions = registry.search_model_versions(
        filter_string=f"name = {string_literal(name)}",
        max_results=VERSIONS_PER_PAGE,
        order_by=["version_number DESC"],
        page_token=req.arg("versions") or None,
    )
    history = registry.history(
        name, max_results=HISTORY_PER_PAGE, page_token=req.arg("history") or None
    )
    return Page(
        "model.html",
        {
            **_summary(model),
            "versions": versions.items,
            "versions_next": versions.next_page_token,
            "history": history.items,
            "history_next": history.next_page_token,
            "notice": _notice(req),
            **approvals.policy_context(req, model.name),
        },
    )


def version_page(req: UiRequest) -> Page:
    registry = _registry(req)
    name = req.path_params["name"]
    mv: ModelVersion = registry.get_model_version(name, req.path_params["version"])
    model = registry.get_registered_model(name)
    history = registry.history(name, mv.version, max_results=HISTORY_PER_PAGE)
    stages = [s for s in Stage.ALL if s != mv.current_stage]
    browser = files.browse(
        lambda: files.version_source(req, mv.name, mv.version), req.arg("artifact")
    )
    run_info, run_metrics = logged_models.source_run_metrics(req, mv)
    return Page(
        "version.html",
        {
            # Moves the signed-in user may not make, with the sentence saying why (auth on).
            "stage_refusals": _stage_refusals(req, name, mv.current_stage, stages),
            "model": model,
            "mv": mv,
            "stages": [s for s in Stage.ALL if s != mv.current_stage],
            "history": history.items,
            "notice": _notice(req),
            "origin": logged_models.version_origin(mv),
            "browser": browser,
            "mlmodel": logged_models.read_mlmodel(browser.source) if browser.source else None,
            "run_info": run_info,
            "run_metrics": run_metrics,
            "exclusive": registry.exclusive,
            "manifest": _manifest(req, mv),
            **approvals.version_context(req, mv),
        },
    )


def _stage_refusals(req: UiRequest, name: str, current: str, stages: list[str]) -> dict[str, str]:
    access = req.services.access
    return {
        s: access.stage_right_missing(req.user, name, current, s)
        for s in stages
        if not access.can_move_stage(req.user, name, current, s)
    }


def _manifest(req: UiRequest, mv: ModelVersion) -> Manifest | None:
    """The version's frozen file list (service/manifests.py), when the server keeps them."""
    manifests = req.services.extra.get("manifests")
    return None if manifests is None else manifests.find(mv)


def _notice(req: UiRequest) -> str | None:
    """The fixed notice for `done=`; a stage move names the version it archived."""
    text = NOTICES.get(req.arg("done"))
    archived = req.arg("archived")
    if req.arg("done") == "version-deleted" and req.arg("version").isdigit():
        return f"Version {req.arg('version')} deleted."
    if text and req.arg("done") == "stage" and archived:
        versions = [v for v in archived.split(",") if v.isdigit()]
        if versions:
            names = ", ".join(f"version {v}" for v in versions)
            text += f" {names[0].upper()}{names[1:]} moved to Archived."
    return text


def version_artifact_tree(req: UiRequest) -> Response:
    """Fragment: the children of one folder of a version's files."""
    return files.tree_fragment(_version_source(req), req)


def version_artifact_preview(req: UiRequest) -> Response:
    """Fragment: the preview pane for one of a version's files."""
    return files.preview_fragment(_version_source(req), req)


def _version_source(req: UiRequest) -> files.FileSource:
    mv: ModelVersion = _registry(req).get_model_version(
        req.path_params["name"], req.path_params["version"]
    )
    return files.version_source(req, mv.name, mv.version)


def logged_model_tree(req: UiRequest) -> Response:
    """Fragment: the children of one folder of a logged model's files."""
    model = _registry(req).get_logged_model(req.path_params["model_id"])
    return files.tree_fragment(files.logged_model_source(req, model.model_id), req)


def logged_model_preview(req: UiRequest) -> Response:
    """Fragment: the preview pane for one of a logged model's files."""
    model = _registry(req).get_logged_model(req.path_params["model_id"])
    return files.preview_fragment(files.logged_model_source(req, model.model_id), req)


# -- stage ------------------------------------------------------------------------------------


def _displaced(registry: Any, mv: ModelVersion, target: str) -> list[ModelVersion]:
    """The versions now in `target` that the move would archive (exclusive stages only).

    Under the seed's rule there is at most one; under MLflow's policy there may be
    several, all archived when the user ticks "archive existing versions".
    """
    if target not in Stage.EXCLUSIVE:
        return []
    holders: list[ModelVersion] = []
    token: str | None = None
    while True:
        page = registry.search_model_versions(
            filter_string=f"name = {string_literal(mv.name)}",
            max_results=10_000,
            order_by=["version_number DESC"],
            page_token=token,
        )
        holders += [h for h in page.items if h.current_stage == target and h.version != mv.version]
        token = page.next_page_token
        if not token:
            return holders


def stage_confirm(req: UiRequest) -> Page:
    registry = _registry(req)
    mv: ModelVersion = registry.get_model_version(
        req.path_params["name"], req.path_params["version"]
    )
    target = canonical_stage(req.arg("to"))
    if target == mv.current_stage:
        raise InvalidParameterValue(f"Version {mv.version} is already in {target}.")
    return Page(
        "confirm_stage.html",
        {
            "mv": mv,
            "target": target,
            "displaced": _displaced(registry, mv, target),
            "exclusive": registry.exclusive,
        },
    )


def stage_apply(req: UiRequest) -> Response:
    registry = _registry(req)
    name, version = req.path_params["name"], req.path_params["version"]
    target = canonical_stage(req.field("to"))
    before = _displaced(registry, registry.get_model_version(name, version), target)
    registry.transition_stage(
        name,
        version,
        target,
        archive_existing_versions=req.field("archive_existing") == "1",
        user=req.user,
        comment=req.field("comment") or None,
    )
    # The versions that held the stage and are Archived now: the move archived them.
    archived = [
        str(d.version)
        for d in before
        if registry.get_model_version(name, d.version).current_stage == Stage.ARCHIVED
    ]
    suffix = f"&archived={','.join(archived)}" if archived else ""
    return redirect(version_url(name, version, f"?done=stage{suffix}"))


# -- aliases ------------------------------------------------------------------------------------


def _alias_holder(registry: Any, name: str, alias: str) -> ModelVersion | None:
    try:
        found: ModelVersion = registry.get_version_by_alias(name, alias)
    except (InvalidParameterValue, ResourceDoesNotExist):
        return None
    return found


def alias_confirm(req: UiRequest) -> Page:
    registry = _registry(req)
    mv: ModelVersion = registry.get_model_version(
        req.path_params["name"], req.path_params["version"]
    )
    action = "delete" if req.arg("action") == "delete" else "set"
    alias = validate_alias(req.arg("alias").strip(), setting=action == "set")
    holder = _alias_holder(registry, mv.name, alias)
    if action == "delete" and (holder is None or holder.version != mv.version):
        raise InvalidParameterValue(f"Alias '{alias}' does not point to version {mv.version}.")
    return Page(
        "confirm_alias.html", {"mv": mv, "alias": alias, "action": action, "holder": holder}
    )


def alias_apply(req: UiRequest) -> Response:
    registry = _registry(req)
    name, version = req.path_params["name"], req.path_params["version"]
    alias = req.field("alias")
    if req.field("action") == "delete":
        registry.delete_alias(name, alias, user=req.user)
        done = "alias-deleted"
    else:
        registry.set_alias(name, alias, version, user=req.user)
        done = "alias-set"
    return redirect(version_url(name, version, f"?done={done}"))


# -- description and tags ------------------------------------------------------------------------


def description_apply(req: UiRequest) -> Response:
    registry = _registry(req)
    name, version = req.path_params["name"], req.path_params["version"]
    registry.update_model_version(name, version, req.field("description"))
    return redirect(version_url(name, version, "?done=description"))


def tag_apply(req: UiRequest) -> Response:
    registry = _registry(req)
    name, version = req.path_params["name"], req.path_params["version"]
    key = req.field("key").strip()
    if req.field("action") == "delete":
        registry.delete_model_version_tag(name, version, key)
        done = "tag-deleted"
    else:
        registry.set_model_version_tag(name, version, key, req.field("value"))
        done = "tag-set"
    return redirect(version_url(name, version, f"?done={done}"))


# -- download ------------------------------------------------------------------------------------


def _version_files(services: Any, mv: ModelVersion) -> tuple[ArtifactLocation, str]:
    """The store holding a version's files and the path of its folder (or file) in it."""
    artifacts = services.artifacts
    if artifacts is None:
        raise ResourceDoesNotExist("This server does not serve artifacts.")
    location = mv.download_uri
    for prefix in ("runs:/", "run:/"):
        if location.startswith(prefix):
            run_id, _, path = location[len(prefix) :].partition("/")
            where: ArtifactLocation = artifacts.run_artifacts(run_id)
            return where, where.at(clean_artifact_path(path.strip("/")))
    where = artifacts.locate(location)
    return where, where.base


def _walk(where: ArtifactLocation, path: str) -> list[str]:
    out: list[str] = []
    for info in where.store.list(path):
        if info.is_dir:
            out.extend(_walk(where, info.path))
        else:
            out.append(info.path)
    return out


async def download_version(request: Request) -> Response:
    """GET /models/{name}/versions/{version}/download: the version's files as one zip
    (or the file itself when the version's source is a single file)."""
    services = request.app.state.services
    registry = services.registry
    if registry is None:
        raise ResourceDoesNotExist("This server has no model registry.")
    name, version = request.path_params["name"], request.path_params["version"]
    mv: ModelVersion = await run_in_threadpool(registry.get_model_version, name, version)
    where, base = await run_in_threadpool(_version_files, services, mv)
    files = await run_in_threadpool(_walk, where, base)
    if not files:
        try:
            stored = await run_in_threadpool(where.store.stat, base)
        except ModelyardError:
            raise ResourceDoesNotExist(
                f"Version {mv.version} of '{mv.name}' has no files at {mv.download_uri}."
            ) from None
        return file_response(request, Download(stored, where.store))
    fd, tmp = tempfile.mkstemp(prefix="modelyard-download-", suffix=".zip")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                arcname = path[len(base) :].lstrip("/") if base else path
                with archive.open(arcname, "w", force_zip64=True) as member:
                    async for chunk in where.store.get(path):
                        await run_in_threadpool(member.write, chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    return FileResponse(
        tmp,
        media_type="application/zip",
        headers={
            "content-disposition": content_disposition(f"{mv.name}-v{mv.version}.zip"),
            "x-content-type-options": "nosniff",
        },
        background=BackgroundTask(_remove, tmp),
    )


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
