"""The one place where exceptions become HTTP responses.

API paths get MLflow's JSON error body with the status its error code maps to;
an unexpected exception is logged with its traceback and answered with a
generic INTERNAL_ERROR, so no traceback ever reaches a client.
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


def render_error(exc: BaseException) -> Response:
    err = to_error(exc)
    status = err.http_status
    if isinstance(exc, HTTPException) and exc.status_code not in (404,):
        status = exc.status_code
    return json_response(err.to_dict(), status=status)


async def handle_exception(request: Request, exc: Exception) -> Response:
    return render_error(exc)
