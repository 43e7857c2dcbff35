"""MLflow's artifact routes, wire-compatible with `mlflow server --serve-artifacts`.

Routes (each proxied one under /api/2.0/mlflow-artifacts and /ajax-api/2.0/mlflow-artifacts,
as MLflow registers them from its MlflowArtifactsService):

* `PUT|GET|DELETE .../artifacts/<path>`: upload (streamed), download, delete;
* `GET .../artifacts?path=`: list a directory (basenames, as MLflow answers);
* `POST .../mpu/create|complete|abort/<path>`, `GET .../presigned/<path>`: multipart
  and presigned hooks, which a local destination refuses with MLflow's 501;
* `GET /get-artifact?run_id=&path=` and `POST /ajax-api/2.0/mlflow/upload-artifact`:
  the UI's run-scoped download and upload;
* `GET /api/2.0/mlflow/artifacts/list` (ROUTES): a run's artifact listing.

Uploads stream from `request.stream()` into the store; downloads of local files
use a FileResponse (ranges, large chunks), and small files are read in the same
worker-thread call that finds them, because the many-small-files case is bound
by per-request overhead rather than bytes.

When artifact serving is off, the proxied routes answer as MLflow does: 503 with
a plain-text explanation naming the route.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import posixpath
import string
import unicodedata
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from modelyard.errors import InvalidParameterValue
from modelyard.http.args import Args, missing
from modelyard.http.endpoint import Ctx, RouteSpec
from modelyard.http.jsonio import json_response
from modelyard.service.artifacts import UI_UPLOAD_LIMIT, ArtifactService, Download
from modelyard.store.artifacts import (
    CHUNK_SIZE,
    FileInfo,
    UploadedPart,
    clean_artifact_path,
    hashing,
)

log = logging.getLogger("modelyard.http.artifacts")

Endpoint = Callable[[Request], Awaitable[Response]]

# Files below this size are read by the same thread-pool call that finds them.
READ_BELOW = 256 * 1024

# MLflow's default lifetime of a presigned download URL (seconds).
PRESIGNED_TTL = 300


# -- headers, as MLflow sets them ----------------------------------------------
# Extensions (or whole names, for MLmodel and MLproject) that MLflow serves as
# text/plain, whatever the platform's mimetypes table says.
TEXT_EXTENSIONS = frozenset(
    {
        *("txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop"),
        *("hocon", "toml", "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv"),
        *("md", "rst", "ipynb", "MLmodel", "MLproject"),
    }
)


def guess_mime_type(filename: str) -> str:
    extension = posixpath.splitext(filename)[1].replace(".", "") or filename
    if extension in TEXT_EXTENSIONS:
        return "text/plain"
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)


def _header_value(value: str) -> str:
    """A header parameter: bare when it is an RFC 7230 token, else quoted-string."""
    if value and _TOKEN_CHARS.issuperset(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def content_disposition(filename: str) -> str:
    """`attachment` with the file name; RFC 5987 `filename*` for non-ASCII names."""
    if filename.isascii():
        return f"attachment; filename={_header_value(filename)}"
    fallback = (
        unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
        or "download"
    )
    encoded = quote(filename, safe="!#$&+-.^_`|~")
    return f"attachment; filename={_header_value(fallback)}; filename*=UTF-8''{encoded}"


class _ArtifactFileResponse(FileResponse):
    chunk_size = CHUNK_SIZE


def _etag(size: int, modified: float) -> str:
    # The same validator Starlette's FileResponse computes, so a file gets one
    # ETag whichever way it is sent.
    digest = hashlib.md5(f"{modified}-{size}".encode(), usedforsecurity=False).hexdigest()
    return f'"{digest}"'


def file_response(request: Request, download: Download) -> Response:
    """Send an artifact as an attachment (never rendered on our origin: XSS)."""
    stored = download.file
    name = posixpath.basename(stored.path)
    mime = guess_mime_type(name)
    # An explicit content-type header: Starlette would append "; charset=utf-8"
    # to text types, MLflow sends the bare type.
    headers = {
        "content-type": mime,
        "content-disposition": content_disposition(name),
        "x-content-type-options": "nosniff",
        "cache-control": "no-cache",
    }
    if stored.sha256 is not None:
        # The content hash: a strong ETag (it wins over FileResponse's own) and
        # RFC 9530's Repr-Digest, which the light client checks on every download.
        headers["etag"] = hashing.etag(stored.sha256)
        headers["repr-digest"] = hashing.repr_digest(stored.sha256)
    if stored.content is not None and "range" not in request.headers:
        headers["last-modified"] = formatdate(stored.modified, usegmt=True)
        headers.setdefault("etag", _etag(stored.size, stored.modified))
        return Response(stored.content, headers=headers)
    if stored.local_path is not None:
        return _ArtifactFileResponse(stored.local_path, headers=headers)
    headers["content-length"] = str(stored.size)
    return StreamingResponse(download.chunks(), headers=headers)


# -- plumbing --------------------------------------------------------------------
def _service(request: Request) -> ArtifactService:
    service: ArtifactService = request.app.state.services.artifacts
    return service


def _files_json(files: list[FileInfo]) -> list[dict[str, Any]]:
    # MLflow's protobuf JSON omits the unset file_size of directories. `sha256`
    # is ours: MLflow's clients build FileInfo from the fields they know.
    out: list[dict[str, Any]] = []
    for info in files:
        item: dict[str, Any] = {"path": info.path, "is_dir": info.is_dir}
        if info.file_size is not None:
            item["file_size"] = info.file_size
        if info.sha256 is not None:
            item["sha256"] = info.sha256
        out.append(item)
    return out


def _ok_empty() -> Response:
    return json_response({})


def _when_serving(rule: str, endpoint: Endpoint) -> Endpoint:
    """MLflow's `_disable_unless_serve_artifacts`: 503 and a text naming the route."""

    async def guarded(request: Request) -> Response:
        if not _service(request).serving:
            return PlainTextResponse(
                f"Endpoint: {rule} disabled due to the mlflow server running with "
                "`--no-serve-artifacts`. To enable artifacts server functionality, "
                "run the server with `--serve-artifacts`",
                status_code=503,
            )
        return await endpoint(request)

    guarded.__name__ = endpoint.__name__
    guarded.__doc__ = endpoint.__doc__
    return guarded


def _artifact_path(request: Request) -> str:
    path: str = request.path_params["artifact_path"]
    return path


# -- the proxied API ---------------------------------------------------------------
async def upload_artifact(request: Request) -> Response:
    """PUT .../mlflow-artifacts/artifacts/<path>: the body, streamed into the store."""
    try:
        await _service(request).upload(_artifact_path(request), request.stream())
    except ClientDisconnect:
        # The store has already removed the partial file; nobody is left to answer.
        log.info("client went away during the upload of %s", _artifact_path(request))
        return Response(status_code=400)
    return _ok_empty()


async def download_artifact(request: Request) -> Response:
    """GET .../mlflow-artifacts/artifacts/<path>."""
    download = await run_in_threadpool(
        _service(request).download, _artifact_path(request), read_below=READ_BELOW
    )
    return file_response(request, download)


async def delete_artifact(request: Request) -> Response:
    """DELETE .../mlflow-artifacts/artifacts/<path>: a file or a whole directory."""
    await run_in_threadpool(_service(request).delete, _artifact_path(request))
    return _ok_empty()


async def list_proxied_artifacts(request: Request) -> Response:
    """GET .../mlflow-artifacts/artifacts?path=: `{}` when empty, as MLflow's protobuf JSON."""
    path = request.query_params.get("path")
    files = await run_in_threadpool(_service(request).list, path)
    return json_response({"files": _files_json(files)} if files else {})


async def create_multipart_upload(request: Request) -> Response:
    """POST .../mpu/create/<path>; MLflow checks the body before the store's support."""
    args = await Args.from_request(request)
    filename = args.str("path")
    num_parts = args.opt_int("num_parts", 0) or 0
    upload = await run_in_threadpool(
        _service(request).create_multipart_upload, _artifact_path(request), filename, num_parts
    )
    body: dict[str, Any] = {
        "credentials": [
            {"url": c.url, "part_number": c.part_number, "headers": c.headers}
            for c in upload.credentials
        ]
    }
    if upload.upload_id is not None:
        body["upload_id"] = upload.upload_id
    return json_response(body)


async def complete_multipart_upload(request: Request) -> Response:
    """POST .../mpu/complete/<path>."""
    args = await Args.from_request(request)
    filename = args.str("path")
    upload_id = args.opt_str("upload_id", "") or ""
    if "parts" not in args:
        raise missing("parts")
    raw_parts = args.raw("parts")
    if not isinstance(raw_parts, list):
        raise InvalidParameterValue("Invalid value for parameter 'parts': expected a list.")
    parts: list[UploadedPart] = []
    for raw in raw_parts:
        if not isinstance(raw, dict):
            raise InvalidParameterValue("Each item of 'parts' must be a JSON object.")
        part = Args(raw)
        parts.append(
            UploadedPart(
                part_number=part.int("part_number"),
                etag=part.opt_str("etag", "") or "",
                url=part.opt_str("url"),
            )
        )
    await run_in_threadpool(
        _service(request).complete_multipart_upload,
        _artifact_path(request),
        filename,
        upload_id,
        parts,
    )
    return _ok_empty()


async def abort_multipart_upload(request: Request) -> Response:
    """POST .../mpu/abort/<path>."""
    args = await Args.from_request(request)
    filename = args.str("path")
    upload_id = args.opt_str("upload_id", "") or ""
    await run_in_threadpool(
        _service(request).abort_multipart_upload, _artifact_path(request), filename, upload_id
    )
    return _ok_empty()


async def presigned_download(request: Request) -> Response:
    """GET .../presigned/<path>: a URL to fetch the file from its backend directly."""
    presigned = await run_in_threadpool(
        _service(request).presigned_download, _artifact_path(request), PRESIGNED_TTL
    )
    body: dict[str, Any] = {"url": presigned.url, "headers": presigned.headers}
    if presigned.file_size is not None:
        body["file_size"] = presigned.file_size
    return json_response(body)


# -- run-scoped routes ------------------------------------------------------------------
async def get_run_artifact(request: Request) -> Response:
    """GET /get-artifact?run_id=&path=: the UI's download of one run artifact."""
    query = request.query_params
    run_id = query.get("run_id") or query.get("run_uuid")
    if not run_id:
        raise missing("run_id")
    path = query.get("path")
    if path is None:
        raise missing("path")
    download = await run_in_threadpool(
        _service(request).download_run_artifact, run_id, path, read_below=READ_BELOW
    )
    return file_response(request, download)


async def upload_run_artifact(request: Request) -> Response:
    """POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path=: the UI's upload (≤ 10 MB).

    MLflow's order of checks and messages: run_uuid, path, size from the
    Content-Length, empty body, then the run. It answers an empty 200 body
    typed application/json.
    """
    query = request.query_params
    run_uuid = query.get("run_uuid")
    if not run_uuid:
        raise InvalidParameterValue("Request must specify run_uuid.")
    path = query.get("path")
    if not path:
        raise InvalidParameterValue("Request must specify path.")
    try:
        # Checked before the body is looked at, in MLflow's words.
        clean_artifact_path(path, allow_root=False)
    except InvalidParameterValue as exc:
        raise InvalidParameterValue(f"Invalid path. {exc.message}") from None
    service = _service(request)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit():
        if int(length) > UI_UPLOAD_LIMIT:
            raise InvalidParameterValue("Artifact size is too large. Max size is 10MB.")
        if int(length) == 0:
            raise InvalidParameterValue("Request must specify data.")
    where = await run_in_threadpool(service.run_artifacts, run_uuid)
    try:
        await service.upload_run_artifact(where, path, request.stream())
    except ClientDisconnect:
        log.info("client went away during the upload of %s to run %s", path, run_uuid)
        return Response(status_code=400)
    return Response(b"", media_type="application/json")


def list_artifacts(ctx: Ctx, args: Args) -> dict[str, Any]:
    """GET /api/2.0/mlflow/artifacts/list: files relative to the run's artifact root.

    Like MLflow for local and proxied roots, everything comes in one page and
    no next_page_token is sent; page_token is accepted and ignored.
    """
    run_id = args.opt_str("run_id") or args.opt_str("run_uuid")
    if not run_id:
        raise missing("run_id")
    service: ArtifactService = ctx.services.artifacts
    root_uri, files = service.list_run_artifacts(run_id, args.opt_str("path"))
    body: dict[str, Any] = {"root_uri": root_uri}
    if files:
        body["files"] = _files_json(files)
    return body


# -- the route tables -------------------------------------------------------------------
# (method, path under /<family>/2.0/mlflow-artifacts, endpoint); `{artifact_path:path}`
# is Flask's `<path:artifact_path>`, used in the disabled-route message.
_PROXIED: list[tuple[str, str, Endpoint]] = [
    ("PUT", "/artifacts/{artifact_path:path}", upload_artifact),
    ("GET", "/artifacts/{artifact_path:path}", download_artifact),
    ("DELETE", "/artifacts/{artifact_path:path}", delete_artifact),
    ("GET", "/artifacts", list_proxied_artifacts),
    ("POST", "/mpu/create/{artifact_path:path}", create_multipart_upload),
    ("POST", "/mpu/complete/{artifact_path:path}", complete_multipart_upload),
    ("POST", "/mpu/abort/{artifact_path:path}", abort_multipart_upload),
    ("GET", "/presigned/{artifact_path:path}", presigned_download),
]


def _proxied_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for family in ("/api", "/ajax-api"):
        for method, suffix, endpoint in _PROXIED:
            path = f"{family}/2.0/mlflow-artifacts{suffix}"
            rule = path.replace("{artifact_path:path}", "<path:artifact_path>")
            routes.append(Route(path, _when_serving(rule, endpoint), methods=[method]))
    return routes


RAW_ROUTES: list[BaseRoute] = [
    *_proxied_routes(),
    Route("/get-artifact", get_run_artifact, methods=["GET"]),
    Route("/ajax-api/2.0/mlflow/upload-artifact", upload_run_artifact, methods=["POST"]),
]

ROUTES: list[RouteSpec] = [
    ("GET", "artifacts/list", list_artifacts),
]
