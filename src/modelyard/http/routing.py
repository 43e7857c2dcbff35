"""A router that finds static paths by dictionary lookup.

Starlette's router tries each route's regular expression in turn; with MLflow's
API mounted under two prefixes that is a few hundred patterns, about 0.1 ms
per request, a tenth of a log-metric call. Most of our paths have no
parameters, so they are looked up by (path, method) first. Order semantics are
kept exactly: a static route enters the table only when no route listed before
it fully matches the same path and method.

The router may start with part of the table and a way to get all of it
(`rest`): a request that no route of the part fully matches first swaps in the
whole table (`complete`), so it is answered as if the table had been whole from
the start. `create_app` uses this to start serving the tracking API before the
registry, webhook and UI modules are imported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send


class StaticFirstRouter(Router):
    def __init__(
        self,
        routes: Sequence[BaseRoute],
        *,
        rest: Callable[[], Sequence[BaseRoute]] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(routes=list(routes), **kwargs)  # type: ignore[arg-type]
        self.static: dict[tuple[str, str], Route] = _static_index(self.routes)
        self._rest = rest
        self._whole = rest is None  # set once the whole table is in place
        self._lock = threading.Lock()

    def complete(self) -> None:
        """Swap in the whole route table (once; safe from any thread)."""
        with self._lock:  # a second caller waits here until the table is whole
            if self._rest is None:
                return
            routes = list(self._rest())
            # A request being routed meanwhile sees the old pair or the new one;
            # the old routes stay valid, so either answers it correctly.
            self.routes, self.static = routes, _static_index(routes)
            self._rest = None
            self._whole = True

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.static.get((scope["path"], scope["method"]))
            if route is not None and not scope.get("root_path"):
                scope.setdefault("router", self)
                scope["route"] = route
                scope["endpoint"] = route.endpoint
                scope["path_params"] = {}
                await route.handle(scope, receive, send)
                return
            if not self._whole and not any(r.matches(scope)[0] is Match.FULL for r in self.routes):
                self.complete()
        await super().app(scope, receive, send)


def _static_index(routes: Sequence[BaseRoute]) -> dict[tuple[str, str], Route]:
    """(path, method) → the route that answers it, for routes without parameters.

    An earlier static route shadows a later one with the same path and method,
    found in the table itself; only routes with parameters (and mounts) are asked
    whether they match the path. Asking every earlier route (a few hundred squared
    `matches` calls) took a fifth of the server's start-up.
    """
    static: dict[tuple[str, str], Route] = {}
    dynamic: list[BaseRoute] = []
    for route in routes:
        if not isinstance(route, Route) or route.param_convertors or not route.methods:
            dynamic.append(route)
            continue
        probe: Scope = {"type": "http", "path": route.path, "root_path": "", "method": ""}
        for method in route.methods:
            if (route.path, method) in static:
                continue  # an earlier static route with this path and method
            if not any(
                earlier.matches({**probe, "method": method})[0] is Match.FULL for earlier in dynamic
            ):
                static[(route.path, method)] = route
    return static
