"""Managing the registry from the UI: a model's description, tags and name; deleting
models and versions.

Every action calls the `RegistryService` method the REST API calls, so name
rules and the stage policy are shared; deleting a model or a version first
shows what goes with it (versions, stages, aliases), since neither can be
restored.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from modelyard.errors import InvalidParameterValue, ResourceDoesNotExist
from modelyard.registry_entities import ModelVersion, Stage
from modelyard.ui.render import Page, url_quote
from modelyard.ui.search import string_literal
from modelyard.ui.web import UiRequest, redirect

# A confirmation lists at most this many versions by number, then counts the rest.
LISTED_VERSIONS = 50


def _registry(req: UiRequest) -> Any:
    registry = req.services.registry
    if registry is None:
        raise ResourceDoesNotExist("This server has no model registry.")
    return registry


def model_url(name: str, suffix: str = "") -> str:
    return f"/models/{url_quote(name)}{suffix}"


def model_description(req: UiRequest) -> Response:
    name = req.path_params["name"]
    _registry(req).update_registered_model(name, req.text_field("description"))
    return redirect(model_url(name, "?done=description"))


def model_tag(req: UiRequest) -> Response:
    registry = _registry(req)
    name = req.path_params["name"]
    key = req.field("key").strip()
    if req.field("action") == "delete":
        registry.delete_registered_model_tag(name, key)
        done = "tag-deleted"
    else:
        registry.set_registered_model_tag(name, key, req.field("value"))
        done = "tag-set"
    return redirect(model_url(name, f"?done={done}"))


def model_rename(req: UiRequest) -> Response:
    new_name = req.field("name").strip()
    if not new_name:
        raise InvalidParameterValue("Give the model a new name: the field was empty.")
    model = _registry(req).rename_registered_model(req.path_params["name"], new_name)
    return redirect(model_url(model.name, "?done=renamed"))


def _all_versions(registry: Any, name: str) -> list[ModelVersion]:
    out: list[ModelVersion] = []
    token: str | None = None
    while True:
        page = registry.search_model_versions(
            filter_string=f"name = {string_literal(name)}",
            max_results=10_000,
            order_by=["version_number DESC"],
            page_token=token,
        )
        out += page.items
        token = page.next_page_token
        if not token:
            return out


def model_delete_confirm(req: UiRequest) -> Page:
    registry = _registry(req)
    model = registry.get_registered_model(req.path_params["name"])
    versions = _all_versions(registry, model.name)
    return Page(
        "confirm_delete_model.html",
        {
            "model": model,
            "count": len(versions),
            "listed": versions[:LISTED_VERSIONS],
            "serving": [v for v in versions if v.current_stage in Stage.EXCLUSIVE],
        },
    )


def model_delete(req: UiRequest) -> Response:
    name = req.path_params["name"]
    _registry(req).delete_registered_model(name)
    return redirect("/models?done=model-deleted")


def version_delete_confirm(req: UiRequest) -> Page:
    registry = _registry(req)
    mv: ModelVersion = registry.get_model_version(
        req.path_params["name"], req.path_params["version"]
    )
    return Page("confirm_delete_version.html", {"mv": mv})


def version_delete(req: UiRequest) -> Response:
    name, version = req.path_params["name"], req.path_params["version"]
    _registry(req).delete_model_version(name, version, user=req.user)
    return redirect(model_url(name, f"?done=version-deleted&version={int(version)}"))
