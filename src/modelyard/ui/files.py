"""The file browser shared by run, logged-model and model-version pages.

A `FileSource` says how to list a folder, read a file and link to its
download; the tree and the preview (`_artifact_tree.html`,
`_artifact_preview.html`) are the same for all three, and so are the
fragment routes the page's script swaps in (`<base>/artifact-tree`,
`<base>/artifact-preview`). Every read goes through the services that serve
the REST API's downloads, so the UI shows exactly the files a client gets.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response

from modelyard.errors import InvalidParameterValue, ModelyardError, ResourceDoesNotExist
from modelyard.http.artifacts import guess_mime_type
from modelyard.service.artifacts import Download
from modelyard.store.artifacts import FileInfo, clean_artifact_path
from modelyard.ui.render import render_fragment, url_quote
from modelyard.ui.web import UiRequest

PREVIEW_LIMIT = 512 * 1024
IMAGE_TYPES = frozenset({"png", "jpg", "jpeg", "gif", "webp", "bmp", "svg"})
JSON_TYPES = frozenset({"json"})
YAML_NAMES = frozenset({"yaml", "yml", "MLmodel", "MLproject"})


@dataclass(frozen=True, slots=True)
class FileSource:
    """Where a browser's files come from; `base` prefixes its fragment routes."""

    base: str
    list: Callable[[str], list[FileInfo]]
    read: Callable[[str, int], Download]
    download_url: Callable[[str], str]


def run_source(req: UiRequest, run_id: str) -> FileSource:
    artifacts = req.services.artifacts
    if artifacts is None:
        raise ResourceDoesNotExist("This server does not serve artifacts.")
    return FileSource(
        base=f"/ui/runs/{url_quote(run_id)}",
        list=lambda path: artifacts.list_run_artifacts(run_id, path)[1],
        read=lambda path, below: artifacts.download_run_artifact(run_id, path, read_below=below),
        download_url=lambda path: "/get-artifact?" + urlencode({"run_id": run_id, "path": path}),
    )


def _registry(req: UiRequest) -> Any:
    registry = req.services.registry
    if registry is None:
        raise ResourceDoesNotExist("This server has no model registry.")
    return registry


def logged_model_source(req: UiRequest, model_id: str) -> FileSource:
    registry = _registry(req)
    return FileSource(
        base=f"/ui/logged-models/{url_quote(model_id)}",
        list=lambda path: registry.logged_model_artifacts(model_id, path)[1],
        read=lambda path, below: registry.logged_model_artifact(model_id, path, read_below=below),
        download_url=lambda path: (
            f"/ajax-api/2.0/mlflow/logged-models/{quote(model_id, safe='')}/artifacts/files?"
            + urlencode({"artifact_file_path": path})
        ),
    )


def version_source(req: UiRequest, name: str, version: int) -> FileSource:
    registry = _registry(req)
    return FileSource(
        base=f"/ui/models/{url_quote(name)}/versions/{version}",
        list=lambda path: registry.model_version_artifacts(name, version, path),
        read=lambda path, below: registry.model_version_artifact(
            name, version, path, read_below=below
        ),
        download_url=lambda path: (
            "/model-versions/get-artifact?"
            + urlencode({"name": name, "version": version, "path": path})
        ),
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """A row of the tree; `children` is None for a folder not expanded."""

    path: str
    name: str
    is_dir: bool
    size: int | None
    children: list[Entry] | None = None


@dataclass(frozen=True, slots=True)
class Browser:
    """What a page shows of a source: the tree, the selected path's preview, or an error."""

    source: FileSource | None
    tree: list[Entry]
    preview: dict[str, Any] | None
    selected: str
    error: str | None


def _entries(files: list[FileInfo]) -> list[Entry]:
    items = [Entry(f.path, posixpath.basename(f.path), f.is_dir, f.file_size) for f in files]
    return sorted(items, key=lambda e: (not e.is_dir, e.name.lower()))


def browse(make_source: Callable[[], FileSource], selected: str) -> Browser:
    """The tree with the selected path's folders expanded, and its preview."""
    try:
        source = make_source()
        selected = clean_artifact_path(selected)
        root = _entries(source.list(""))
        tree = _expand(source, root, selected)
        preview = _preview(source, selected) if selected else None
    except ModelyardError as exc:
        return Browser(None, [], None, selected, exc.message)
    return Browser(source, tree, preview, selected, None)


def _expand(source: FileSource, level: list[Entry], selected: str) -> list[Entry]:
    out = []
    for entry in level:
        if entry.is_dir and (selected == entry.path or selected.startswith(entry.path + "/")):
            children = _expand(source, _entries(source.list(entry.path)), selected)
            entry = Entry(entry.path, entry.name, True, None, children)
        out.append(entry)
    return out


def _kind(name: str) -> str:
    ext = posixpath.splitext(name)[1].lstrip(".").lower() or name
    if ext in IMAGE_TYPES:
        return "image"
    if ext in JSON_TYPES:
        return "json"
    if ext in YAML_NAMES or name in YAML_NAMES:
        return "yaml"
    if guess_mime_type(name).startswith("text/"):
        return "text"
    return "other"


def read_text(source: FileSource, path: str, limit: int = PREVIEW_LIMIT) -> str | None:
    """A small text file's content, or None when missing, large or not UTF-8."""
    try:
        stored = source.read(path, limit + 1).file
    except ModelyardError:
        return None
    if stored.content is None:
        return None
    try:
        return stored.content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _preview(source: FileSource, path: str) -> dict[str, Any]:
    """What the preview pane shows for `path`: a folder listing or a file's content."""
    name = posixpath.basename(path)
    info: dict[str, Any] = {
        "path": path,
        "name": name,
        "content": None,
        "download": source.download_url(path),
    }
    try:
        download = source.read(path, PREVIEW_LIMIT + 1)
    except InvalidParameterValue:
        return {**info, "kind": "dir", "children": _entries(source.list(path))}
    stored = download.file
    kind = _kind(name)
    info.update(kind=kind, size=stored.size)
    if kind == "image":
        return info
    content = stored.content
    if content is None and stored.size == 0:
        content = b""
    if content is None:
        return {**info, "kind": "large"}
    if b"\0" in content[:8192]:
        return {**info, "kind": "binary"}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return {**info, "kind": "binary"}
    if kind == "json":
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            kind = "text"
    elif kind == "other":
        kind = "text"
    return {**info, "kind": kind, "content": text}


def tree_fragment(source: FileSource, req: UiRequest) -> Response:
    """Fragment: the children of one folder, for the tree's lazy expansion."""
    path = clean_artifact_path(req.arg("path"))
    return render_fragment("_artifact_tree.html", entries=_entries(source.list(path)), selected="")


def preview_fragment(source: FileSource, req: UiRequest) -> Response:
    """Fragment: the preview pane for one path."""
    path = clean_artifact_path(req.arg("path"), allow_root=False)
    return render_fragment("_artifact_preview.html", preview=_preview(source, path))
