"""Turning authentication on: build the auth services and put guards on every route.

Called by `create_app` only when `--auth` (or `--app-name basic-auth`) is
given; with auth off nothing here is imported and `OpenAccess` stays.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from modelyard.http.auth_guard import AuthIdentifier, install_guards
from modelyard.service.auth_users import AuthUsers, admin_from_env
from modelyard.service.permissions import Permissions
from modelyard.store.sql.auth import SqlAuthStore

log = logging.getLogger("modelyard.auth")


class AuthSetupError(RuntimeError):
    """Authentication cannot start (no admin); the message says what to set."""


NO_ADMIN = (
    "modelyard: --auth needs a first admin: set MODELYARD_ADMIN_PASSWORD (and optionally "
    "MODELYARD_ADMIN_USERNAME, default 'admin'; MLflow's MLFLOW_AUTH_ADMIN_PASSWORD works too)."
)


def bootstrap_admin(db: Any, clock_ms: Any, environ: Mapping[str, str] | None = None) -> None:
    """At `modelyard server` start: create the first admin or refuse to start (one line)."""
    store = SqlAuthStore(db)
    users = AuthUsers(store, Permissions(store, "READ", ()), clock_ms)
    username, password = admin_from_env(os.environ if environ is None else environ)
    if not users.ensure_admin(username, password):
        raise AuthSetupError(NO_ADMIN)


def auth_services(services: Any, environ: Mapping[str, str] | None = None) -> AuthUsers:
    """Build the auth store and services, swap in the real `services.access`, make the admin."""
    settings = services.settings
    store = SqlAuthStore(services.db)
    aliases = tuple(a.strip() for a in settings.auth_protected_aliases.split(",") if a.strip())
    permissions = Permissions(store, settings.auth_default_permission, aliases)
    users = AuthUsers(store, permissions, services.clock)
    username, password = admin_from_env(os.environ if environ is None else environ)
    if not users.ensure_admin(username, password):
        raise AuthSetupError(NO_ADMIN)
    services.access = permissions
    if services.registry is not None:
        services.registry.access = permissions
    services.extra["auth_users"] = users
    return users


def enable_auth(app: Any, services: Any) -> AuthIdentifier:
    """Guard every route of `app` (a Starlette app); returns the door's identifier."""
    users = auth_services(services)
    unruled = install_guards(app.router.routes, users.permissions)
    if unruled:
        log.warning("routes without a permission rule (admins only): %s", ", ".join(unruled))
    session = None
    try:  # the UI's login sessions, when the UI's auth pages are installed
        pages = importlib.import_module("modelyard.ui.auth_pages")
    except ModuleNotFoundError as exc:
        if exc.name != "modelyard.ui.auth_pages":
            raise
    else:
        session = pages.Sessions(users.store.secret("session"))
    return AuthIdentifier(users, session)
