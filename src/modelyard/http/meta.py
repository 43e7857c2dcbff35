"""Server meta endpoints: /health, /version and MLflow 3's server-info."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from modelyard import __version__
from modelyard.http.args import Args
from modelyard.http.endpoint import Ctx, RouteSpec


async def health(request: Request) -> Response:
    """Liveness: `OK` while the process serves requests (load balancers poll it)."""
    return PlainTextResponse("OK")


async def version(request: Request) -> Response:
    """The server's version, as plain text."""
    return PlainTextResponse(__version__)


def server_info(ctx: Ctx, args: Args) -> dict[str, object]:
    # Clients read this before anything else to learn what the server can do.
    # We advertise only what we implement: no workspaces, no trace archival,
    # no presigned or multipart transfers (uploads stream through the proxy).
    return {
        "store_type": "SqlStore",
        "workspaces_enabled": False,
        "trace_archival_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "presigned_upload_run_id_supported": False,
        "presigned_upload_model_id_supported": False,
        "features_enabled": {"gateway": False},
        "server": "modelyard",
        "version": __version__,
    }


ROUTES: list[RouteSpec] = [("GET", "3.0/server-info", server_info)]
RAW_ROUTES = [
    Route("/health", health, methods=["GET", "HEAD"]),
    Route("/version", version, methods=["GET"]),
]
