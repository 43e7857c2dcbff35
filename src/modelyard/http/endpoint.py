"""How a REST handler is written: a plain function (ctx, args) -> JSON-able.

`api()` adapts it to Starlette: parse the arguments, run the function in the
thread pool (the store is synchronous), serialise the result. Handlers thus
stay a few lines each: parse, call the service, serialise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from modelyard.http.args import Args
from modelyard.http.door import ANONYMOUS, SCOPE_KEY, Identity
from modelyard.http.jsonio import json_response


@dataclass(frozen=True)
class Ctx:
    services: Any  # modelyard.app.Services; Any keeps this module free of the wiring
    identity: Identity
    path_params: dict[str, Any]
    request: Request


Handler = Callable[[Ctx, Args], Any]


def ctx_of(request: Request) -> Ctx:
    return Ctx(
        services=request.app.state.services,
        identity=request.scope.get(SCOPE_KEY, ANONYMOUS),
        path_params=dict(request.path_params),
        request=request,
    )


def api(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        args = await Args.from_request(request)
        result = await run_in_threadpool(fn, ctx_of(request), args)
        if isinstance(result, Response):
            return result
        return json_response({} if result is None else result)

    endpoint.__name__ = fn.__name__
    endpoint.__doc__ = fn.__doc__
    return endpoint


# (method, path relative to the API family, handler). A path starting with
# "3.0/" is served under /api/3.0/mlflow/ (and /ajax-api/3.0/mlflow/).
RouteSpec = tuple[str, str, Handler]
