"""The one place where exceptions become HTTP responses.

API paths get MLflow's JSON error body with the status its error code maps to;
a browser asking for a UI page (any other path, `Accept: text/html`) gets the
UI's HTML error page with the same status instead. An unexpected exception is
logged with its traceback and answered with a generic INTERNAL_ERROR, so no
traceback ever reaches a client.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from modelyard.errors import EndpointNotFound, InternalError, ModelyardError
from modelyard.http.jsonio import json_response

log = logging.getLogger("modelyard.http")


def to_error(exc: BaseException) -> ModelyardError:
    if isinstance(exc, ModelyardError):
        return exc
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return EndpointNotFound(f"No endpoint at this path. {exc.detail or ''}".strip())
        err = ModelyardError(str(exc.detail))
        err.code = "BAD_REQUEST"  # type: ignore[misc]
        return err
    log.exception("unexpected error while serving a request", exc_info=exc)
    return InternalError("The server hit an unexpected error; the server log has the details.")


def _status(exc: BaseException, err: ModelyardError) -> int:
    if isinstance(exc, HTTPException) and exc.status_code not in (404,):
        return exc.status_code
    return err.http_status


# Seconds a client is told to wait before retrying a 503 (the database or object
# store out of reach); MLflow's client retries 503 with its own backoff too.
RETRY_AFTER_S = 2


def render_error(exc: BaseException) -> Response:
    err = to_error(exc)
    response = json_response(err.to_dict(), status=_status(exc, err))
    if response.status_code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


# Paths that always answer JSON errors, whatever the client accepts.
_API_PREFIXES = ("/api/", "/ajax-api/", "/get-artifact", "/model-versions/", "/health", "/version")


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith(_API_PREFIXES) and "text/html" in request.headers.get(
        "accept", ""
    )


async def handle_exception(request: Request, exc: Exception) -> Response:
    if wants_html(request):
        from modelyard.ui.render import error_page  # the UI is imported only when used

        err = to_error(exc)
        page = error_page(request, err, _status(exc, err))
        if page.status_code == 503:
            page.headers["Retry-After"] = str(RETRY_AFTER_S)
        return page
    return render_error(exc)
