"""`create_app(settings)`: the one place where modelyard is wired together.

Nothing is opened at import time: the database, the stores and the services
are built here, migrations run here (at start-up), and every HTTP module
contributes its routes to one table mounted under MLflow's path families.
"""

from __future__ import annotations

import copy
import gc
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route

from modelyard.errors import ModelyardError
from modelyard.http import door as door_mod
from modelyard.http.access_log import AccessLog
from modelyard.http.endpoint import RouteSpec, api
from modelyard.http.errors import handle_exception
from modelyard.http.limits import BodyTimeout
from modelyard.http.routing import StaticFirstRouter
from modelyard.settings import Settings
from modelyard.store.sql import migrations
from modelyard.store.sql.db import Database

log = logging.getLogger("modelyard")

Clock = Callable[[], int]
IdFactory = Callable[[], str]


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def random_id() -> str:
    return uuid.uuid4().hex


class Services:
    """What handlers reach through `ctx.services`.

    Tracking and artifacts are built by `build_services`. The registry, its
    manifests and promotion requests, and webhooks (and what they put in `extra`)
    are wired by `complete()`, once, at the first access to any of them: a server
    answering the tracking API has no need to import them before its first
    request (they were half of its start-up). `create_app` calls `complete()`
    from a background thread right after start-up, and at once with --auth.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        new_id: IdFactory,
        *,
        access: Any = None,
        tracking: Any = None,
        artifacts: Any = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.new_id = new_id
        self.tracking = tracking
        self.artifacts = artifacts
        # Who may do what (modelyard.service.access.Access); OpenAccess with auth off.
        self.access = access
        self._parts: dict[str, Any] = {"registry": None, "approvals": None, "webhooks": None}
        self._extra: dict[str, Any] = {}
        self._wire_rest: Callable[[Services], None] | None = None
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._failed: Exception | None = None

    def defer(self, wire_rest: Callable[[Services], None]) -> None:
        """Have `complete()` call `wire_rest(self)` (at most once)."""
        self._wire_rest = wire_rest

    def complete(self) -> None:
        """Wire the deferred parts unless done; other threads wait for it."""
        if self._done.is_set():
            if self._failed is not None:
                raise self._failed
            return
        with self._lock:  # reentrant: the wiring itself reads and sets the parts
            wire, self._wire_rest = self._wire_rest, None
            if wire is None:
                return  # done by another thread, or in progress on this one
            try:
                wire(self)
            except Exception as exc:  # every later use fails the same way, not with None
                self._failed = exc
                raise
            finally:
                self._done.set()

    @property
    def registry(self) -> Any:
        self.complete()
        return self._parts["registry"]

    @registry.setter
    def registry(self, value: Any) -> None:
        self._parts["registry"] = value

    @property
    def approvals(self) -> Any:  # promotion requests (modelyard.service.transition_requests)
        self.complete()
        return self._parts["approvals"]

    @approvals.setter
    def approvals(self, value: Any) -> None:
        self._parts["approvals"] = value

    @property
    def webhooks(self) -> Any:
        self.complete()
        return self._parts["webhooks"]

    @webhooks.setter
    def webhooks(self, value: Any) -> None:
        self._parts["webhooks"] = value

    @property
    def extra(self) -> dict[str, Any]:
        self.complete()
        return self._extra


API_FAMILIES = ("/api", "/ajax-api")


def _api_routes(specs: list[RouteSpec]) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for method, path, handler in specs:
        version, rest = ("3.0", path[4:]) if path.startswith("3.0/") else ("2.0", path)
        endpoint = api(handler)
        for family in API_FAMILIES:
            routes.append(Route(f"{family}/{version}/mlflow/{rest}", endpoint, methods=[method]))
    return routes


def build_services(
    settings: Settings, *, clock: Clock = wall_clock_ms, new_id: IdFactory = random_id
) -> Services:
    from modelyard.service.access import OpenAccess
    from modelyard.service.logged_model_metrics import ModelMetricRecorder
    from modelyard.service.tracking import TrackingService
    from modelyard.store.sql.dataset_summaries import SqlDatasetSummaries
    from modelyard.store.sql.logged_model_metrics import SqlLoggedModelMetrics
    from modelyard.store.sql.tracking import SqlTrackingStore

    db = Database(settings.store_uri)
    services = Services(settings=settings, db=db, clock=clock, new_id=new_id, access=OpenAccess())
    services.tracking = TrackingService(
        SqlTrackingStore(db),
        artifact_root=settings.experiment_artifact_root,
        clock=clock,
        new_id=new_id,
        model_metrics=ModelMetricRecorder(SqlLoggedModelMetrics(db)),
        dataset_summaries=SqlDatasetSummaries(db),
    )
    _wire_optional(services)
    return services


def _wire_optional(services: Services) -> None:
    """Parts built in their own modules; each wires itself. Artifacts now (the
    tracking API serves them, and a bad destination should stop the start); the
    registry and what hangs off it when first needed (`Services.complete`)."""
    from modelyard.service.artifacts import wire as wire_artifacts

    wire_artifacts(services)
    services.defer(_wire_registry_and_webhooks)


def _wire_registry_and_webhooks(services: Services) -> None:
    from modelyard.service.manifests import wire as wire_manifests
    from modelyard.service.registry import wire as wire_registry
    from modelyard.service.transition_requests import wire as wire_approvals
    from modelyard.service.webhooks import wire as wire_webhooks

    wire_registry(services)
    wire_manifests(services)
    wire_approvals(services)
    wire_webhooks(services)


# Every module that contributes routes, in the order their routes are tried.
ROUTE_MODULES = (
    "meta",
    "experiments",
    "runs",
    "metrics",
    "artifacts",
    "registered_models",
    "model_versions",
    "logged_models",
    "history",
    "auth_api",  # MLflow's basic-auth API, tokens (answers 404 with auth off)
    "openapi",
    "dataset_summaries",
    "manifests",
    "transition_requests",
    "databricks",
    "webhooks",
    "registry_webhooks",
    "modelyard.ui.routes",  # the web UI: its own package, named in full
    "modelyard.ui.auth_pages",  # sign-in, sign-out, the admin page
)
# What a server answers from its first request; the rest of the table (and the
# services behind it) is loaded by a background thread right after start-up, or
# by the first request that needs it, whichever comes first (see StaticFirstRouter).
TRACKING_ROUTE_MODULES = ("meta", "experiments", "runs", "metrics", "artifacts")


def all_routes(modules: Sequence[str] = ROUTE_MODULES) -> list[BaseRoute]:
    import importlib

    specs: list[RouteSpec] = []
    raw: list[BaseRoute] = []
    for name in modules:
        qualified = name if name.startswith("modelyard.") else f"modelyard.http.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name == qualified:
                continue
            raise
        specs.extend(getattr(module, "ROUTES", []))
        # Copies: auth's install_guards wraps each route's `app` in place, and the
        # module-level Route objects are shared by every app built in this process.
        raw.extend(copy.copy(route) for route in getattr(module, "RAW_ROUTES", []))
    return raw + _api_routes(specs)


def create_app(
    settings: Settings,
    *,
    clock: Clock = wall_clock_ms,
    new_id: IdFactory = random_id,
    migrate: bool = True,
    identify: door_mod.Identifier = door_mod.identify_from_basic_auth,
    policy: door_mod.Policy | None = None,
) -> Any:
    services = build_services(settings, clock=clock, new_id=new_id)
    if migrate:
        applied = migrations.upgrade(services.db)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
    services.tracking.ensure_default_experiment()

    def start_deliverer() -> None:
        # Every server process delivers webhooks from the shared outbox. Starting
        # re-encrypts stored secrets under this server's key and raises when one
        # cannot be read, which refuses the start.
        deliverer = services.extra.get("webhook_deliverer")
        if deliverer is not None:
            deliverer.start()

    def the_rest() -> list[BaseRoute]:
        # Services first, then the route modules, all under the router's lock:
        # whichever thread gets here first (the start-up thread or a request for
        # a route not loaded yet) does every import, so no two threads import
        # the same modules in different orders.
        services.complete()
        return all_routes()

    def finish_start() -> None:
        """The parts the tracking API does not need, loaded once it is served."""
        router.complete()
        start_deliverer()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import anyio.to_thread

        from modelyard.service.abandoned_uploads import sweep_in_background

        # Handlers run in anyio's thread pool; its first use imports anyio's
        # asyncio backend (40 ms on a loaded machine), which belongs to start-up,
        # not to the first request.
        await anyio.to_thread.run_sync(lambda: None)

        stop_gc: Callable[[], None] = lambda: None  # noqa: E731
        if settings.gc_interval:  # --gc-interval; off by default
            from modelyard.service.gc import schedule_from_settings

            stop_gc = schedule_from_settings(services)
        sweep_in_background(services)  # uploads a killed server left unfinished
        from modelyard.store.sql.webhook_tokens import any_stored_token

        if any_stored_token(services.db):
            start_deliverer()  # the key check must be able to refuse the start
        finisher = threading.Thread(target=finish_start, name="modelyard-start", daemon=True)
        finisher.start()
        try:
            yield
        finally:
            finisher.join()
            deliverer = services.extra.get("webhook_deliverer")
            if deliverer is not None:
                deliverer.stop()
            stop_gc()
            services.db.close()

    app = Starlette(
        routes=[],
        exception_handlers={
            ModelyardError: handle_exception,
            HTTPException: handle_exception,
            Exception: handle_exception,
        },
        lifespan=lifespan,
    )
    # Same routes and lifespan, found by dictionary for static paths. With auth,
    # every route gets its guard now, so the table is whole from the start.
    if settings.auth_enabled:
        services.complete()
        router = StaticFirstRouter(all_routes(), lifespan=lifespan)
    else:
        router = StaticFirstRouter(
            all_routes(TRACKING_ROUTE_MODULES), rest=the_rest, lifespan=lifespan
        )
    app.router = router
    app.state.services = services
    # The door wraps everything, so no route can be reached around it; the
    # access log wraps the door, so refused requests are logged too.
    inner = BodyTimeout(app, settings.request_body_timeout)
    if settings.auth_enabled:  # http/auth_setup.py: users, permissions, a guard per route
        from modelyard.http.auth_guard import RealmOn401
        from modelyard.http.auth_setup import enable_auth

        return AccessLog(
            RealmOn401(door_mod.Door(inner, identify=enable_auth(app, services), policy=policy))
        )
    return AccessLog(door_mod.Door(inner, identify, policy))


class _LineFormatter(logging.Formatter):
    """`%(asctime)s` as logging writes it, with the seconds part made once a second.

    At --log-level info every request writes an access line; the stock
    formatter's strftime and LogRecord's caller, thread and process lookups
    (which this format never shows) were most of that line's cost.
    """

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return f"{self._stamp},{int(record.msecs):03d}"  # logging's default_msec_format


def configure_logging(level: str) -> None:
    """Log lines to stderr at `level`; each worker process calls it too."""
    if logging.getLogger().handlers:
        return  # configured already (basicConfig would do nothing either)
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # no caller lookup per record (logging HOWTO, "Optimization")
    handler = logging.StreamHandler()
    handler.setFormatter(_LineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def app_from_env() -> Any:
    """uvicorn factory used with --workers: settings travel in MODELYARD_* vars."""
    from modelyard.settings import settings_from

    settings = settings_from()
    configure_logging(settings.log_level)  # a no-op where the CLI already did it
    app = create_app(settings)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Keep what start-up built out of the garbage collector's full passes.

    Modules, routes, settings and services live as long as the process (about
    50,000 objects); every full collection walked them all, ~40 ms each. A page
    building 1,000 runs' columns (the plots page) sets one off every few
    requests: that was its p95. Moved to the permanent generation
    (`gc.freeze`), they are no longer walked: a full pass costs ~7 ms. Only the
    server calls this; tests build many apps in one process and let them go.
    """
    gc.collect()
    gc.freeze()
