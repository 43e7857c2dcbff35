"""`create_app(settings)`: the one place where modelyard is wired together.

Nothing is opened at import time: the database, the stores and the services
are built here, migrations run here (at start-up), and every HTTP module
contributes its routes to one table mounted under MLflow's path families.
"""

from __future__ import annotations

import copy
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
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


@dataclass
class Services:
    """What handlers reach through `ctx.services`."""

    settings: Settings
    db: Database
    clock: Clock
    new_id: IdFactory
    tracking: Any = None
    artifacts: Any = None
    registry: Any = None
    # Who may do what (modelyard.service.access.Access); OpenAccess with auth off.
    access: Any = None
    approvals: Any = None  # promotion requests (modelyard.service.transition_requests)
    webhooks: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


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
    """Parts built in their own modules (artifacts, registry); each wires itself."""
    try:
        from modelyard.service.artifacts import wire as wire_artifacts
    except ImportError:
        pass
    else:
        wire_artifacts(services)
    try:
        from modelyard.service.registry import wire as wire_registry
    except ImportError:
        pass
    else:
        wire_registry(services)
        from modelyard.service.manifests import wire as wire_manifests

        wire_manifests(services)

        from modelyard.service.transition_requests import wire as wire_approvals

        wire_approvals(services)

    from modelyard.service.webhooks import wire as wire_webhooks

    wire_webhooks(services)


def all_routes() -> list[BaseRoute]:
    import importlib

    specs: list[RouteSpec] = []
    raw: list[BaseRoute] = []
    for name in (
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
    ):
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

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from modelyard.service.abandoned_uploads import sweep_in_background
        from modelyard.service.gc import schedule_from_settings

        stop_gc = schedule_from_settings(services)  # --gc-interval; off by default
        sweep_in_background(services)  # uploads a killed server left unfinished
        # Every server process delivers webhooks from the shared outbox.
        deliverer = services.extra.get("webhook_deliverer")
        if deliverer is not None:
            deliverer.start()
        try:
            yield
        finally:
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
    # Same routes and lifespan, found by dictionary for static paths.
    app.router = StaticFirstRouter(all_routes(), lifespan=lifespan)
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


def configure_logging(level: str) -> None:
    """Log lines to stderr at `level`; each worker process calls it too."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


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
