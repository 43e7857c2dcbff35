"""How a UI view is written: a plain function (UiRequest) -> Page | Response.

`view()` adapts it to Starlette like `http.endpoint.api` does for REST
handlers: read the form of a POST, run the function on the thread pool (the
services are synchronous), render the page it returns. Writes are POST forms
answered with a redirect (post/redirect/get), so reloading never repeats them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from modelyard.errors import BadRequest, PermissionDenied
from modelyard.http.door import ANONYMOUS, SCOPE_KEY, Identity
from modelyard.ui.render import Page, render

# Forms carry a description or a tag value at most; MLflow's longest registry
# value (a description) is 5000 characters, so this leaves room without
# letting a client make the server buffer a large body.
MAX_FORM_BYTES = 256 * 1024


@dataclass(frozen=True)
class UiRequest:
    services: Any  # modelyard.app.Services
    identity: Identity
    path_params: dict[str, Any]
    query: QueryParams
    form: QueryParams

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)

    def field(self, name: str, default: str = "") -> str:
        return self.form.get(name, default)

    def text_field(self, name: str) -> str:
        """A textarea's value with the browser's CRLF line ends made plain newlines
        (what a client logging the same text through the API would send)."""
        return self.form.get(name, "").replace("\r\n", "\n")

    @property
    def user(self) -> str | None:
        return self.identity.user


UiView = Callable[[UiRequest], "Page | Response"]


def check_same_origin(request: Request) -> None:
    """Refuse cross-site form posts (CSRF): the browser says where a POST came from."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise PermissionDenied("Cross-site form submissions are refused.")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise PermissionDenied("Cross-site form submissions are refused.")


async def _read_form(request: Request) -> QueryParams:
    if request.method != "POST":
        return QueryParams("")
    check_same_origin(request)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadRequest("The form is too large.")
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if body and kind != "application/x-www-form-urlencoded":
        raise BadRequest("Forms must be sent as application/x-www-form-urlencoded.")
    try:
        return QueryParams(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise BadRequest("The form is not valid UTF-8.") from None


def view(fn: UiView) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        ui = UiRequest(
            services=request.app.state.services,
            identity=request.scope.get(SCOPE_KEY, ANONYMOUS),
            path_params=dict(request.path_params),
            query=request.query_params,
            form=await _read_form(request),
        )
        result = await run_in_threadpool(fn, ui)
        if isinstance(result, Response):
            return result
        return render(request, result)

    endpoint.__name__ = fn.__name__
    endpoint.__doc__ = fn.__doc__
    return endpoint


def redirect(url: str) -> Response:
    """303 See Other: the browser follows a POST's answer with a GET."""
    return RedirectResponse(url, status_code=303)
