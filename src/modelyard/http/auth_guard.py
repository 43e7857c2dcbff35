"""Authentication on: who the caller is (the door) and what each route lets them do.

`enable_auth(app, services)` is called by `create_app` when `--auth` is on.
It wraps every route's ASGI app in a `Guard` holding that route's rule
(`http/auth_rules.py`), so the check runs after routing, with the path
parameters known, and a route without a rule is refused to everyone but
admins (and fails the permission-matrix test).

Checks answer from in-process caches when they can (the log-metric hot
path); a cache miss runs the same check on the thread pool, never blocking
the event loop on the database.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.errors import PermissionDenied, Unauthenticated
from modelyard.http.auth_rules import ADMIN, Rule, all_rules
from modelyard.http.door import ANONYMOUS, SCOPE_KEY, Identity
from modelyard.http.jsonio import loads
from modelyard.service.auth_users import AuthUsers
from modelyard.service.permissions import NAME_OF_RANK, RANK, CacheMiss, Permissions

log = logging.getLogger("modelyard.auth")

REALM_HEADER = (b"www-authenticate", b'Basic realm="mlflow"')
_API_FAMILY_PREFIXES = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")
_API3_PREFIXES = ("/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/")
# Paths that are not UI pages: an anonymous caller gets 401, not a login redirect.
_NOT_UI = ("/api/", "/ajax-api/", "/get-artifact", "/model-versions/", "/health", "/version")

# Where the signed-in UI user and their CSRF token wait for the templates.
VIEWER_KEY = "modelyard.viewer"


def rule_key(path: str) -> str:
    """The table key of a route path: API paths relative to their family."""
    for prefix in _API_FAMILY_PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix) :]
    for prefix in _API3_PREFIXES:
        if path.startswith(prefix):
            return "3.0/" + path[len(prefix) :]
    return path


def route_methods(route: BaseRoute) -> list[str]:
    if isinstance(route, Mount):
        return ["GET"]
    methods = getattr(route, "methods", None) or ["GET"]
    return sorted(m for m in methods if m != "HEAD" or methods == {"HEAD"}) or ["GET"]


def rule_for(rules: dict[tuple[str, str], Rule], method: str, path: str) -> Rule | None:
    """The declared rule of one route (full path first, then the API-relative key)."""
    return rules.get((method, path)) or rules.get((method, rule_key(path)))


def route_table(routes: Iterable[BaseRoute]) -> list[tuple[str, str, Rule | None]]:
    """(method, path, rule) for every route and method: what the matrix test walks."""
    rules = all_rules()
    table: list[tuple[str, str, Rule | None]] = []
    for route in routes:
        path = getattr(route, "path", "")
        for method in route_methods(route):
            table.append((method, path, rule_for(rules, method, path)))
    return table


class AuthIdentifier:
    """Identify the caller from an Authorization header or the UI's session cookie."""

    def __init__(self, users: AuthUsers, session: Any = None) -> None:
        self.users = users
        self.session = session  # ui.auth_pages.Sessions, when the UI is installed

    def __call__(self, scope: Scope) -> Identity | Awaitable[Identity]:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                cached = self.users.cached_caller(value)
                if cached is not None:
                    return Identity(cached.username)
                return self._verify(value, _address(scope))
        if self.session is not None:
            user = self.session.user_of(scope)
            if user is not None and self.users.permissions.user(user):
                scope[VIEWER_KEY]["is_admin"] = self.users.permissions.is_admin(user)
                return Identity(user)
            scope.pop(VIEWER_KEY, None)
        return ANONYMOUS

    async def _verify(self, header: bytes, address: str) -> Identity:
        caller = await run_in_threadpool(self.users.authenticate, header, address)
        return Identity(caller.username)


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Guard:
    """One route's ASGI app behind its rule."""

    def __init__(self, app: ASGIApp, rule: Rule, permissions: Permissions, ui: bool) -> None:
        self.app = app
        self.rule = rule
        self.permissions = permissions
        self.ui = ui
        self._body_args = rule.resource != "" or rule.need == "self"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        identity: Identity = scope.get(SCOPE_KEY, ANONYMOUS)
        rule = self.rule
        if rule.need == "public":
            await self.app(scope, receive, send)
            return
        if identity.anonymous:
            if self.ui and scope["method"] == "GET":
                target = scope["path"] + (
                    "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""
                )
                await RedirectResponse(f"/login?next={quote(target)}", status_code=303)(
                    scope, receive, send
                )
                return
            raise Unauthenticated(
                "Authentication required: send HTTP Basic credentials "
                "(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD) or a Bearer access "
                "token (MLFLOW_TRACKING_TOKEN)."
            )
        if self.ui and scope["method"] == "POST":
            body, receive = await _buffer(receive)
            if not csrf_ok(scope, body):
                raise PermissionDenied(
                    "The form's CSRF token is missing or stale; reload the page and try again."
                )
        if rule.need != "user":
            values, receive = await self._values(scope, receive)
            try:
                self.decide(identity.user, values, cached_only=True)
            except CacheMiss:
                await run_in_threadpool(self.decide, identity.user, values, False)
        await self.app(scope, receive, send)

    async def _values(self, scope: Scope, receive: Receive) -> tuple[list[str], Receive]:
        """The request's values of the rule's field (path, then query, then JSON body)."""
        names = self.rule.args
        if not names:
            return [], receive
        params = scope.get("path_params", {})
        for name in names:
            if name in params:
                return [str(params[name])], receive
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=False)
        found = [v for k, v in query for name in names if k == name]
        if found or scope["method"] in ("GET", "HEAD") or self.ui:
            return (found if self.rule.many else found[:1]), receive
        body, receive = await _buffer(receive)
        try:
            data = loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return [], receive  # the handler answers the malformed body
        if not isinstance(data, dict):
            return [], receive
        for name in names:
            value = data.get(name)
            if isinstance(value, list) and self.rule.many:
                return [str(v) for v in value if v is not None], receive
            if value is not None and not isinstance(value, (list, dict)):
                return [str(value)], receive
        return [], receive

    def decide(self, user: str | None, values: list[str], cached_only: bool) -> None:
        """Raise PermissionDenied unless `user` may make this request."""
        rule = self.rule
        perms = self.permissions
        if perms.is_admin(user, cached_only):
            return
        if rule.need == "admin":
            raise PermissionDenied("Only an admin may do this.")
        if rule.need == "self":
            if values and values[0] != user:
                raise PermissionDenied(
                    f"{user} may only see or change their own account; an admin can act "
                    f"for '{values[0]}'."
                )
            return
        need = RANK[rule.need]
        for value in values:
            kind, resource, tier = self._resource(value, cached_only)
            if resource is None:
                continue  # unknown resource: the handler answers 404 (or the admin rule)
            have = perms.rank(user, kind, resource, tier, cached_only)
            if have < need:
                what = "experiment" if kind == "experiment" else "registered model"
                raise PermissionDenied(
                    f"This needs {rule.need} on {what} '{resource}'; {user} has "
                    f"{NAME_OF_RANK[have]}. A user with MANAGE on it or an admin can grant it."
                )

    def _resource(self, value: str, cached_only: bool) -> tuple[str, str | None, str]:
        kind = self.rule.resource
        perms = self.permissions
        if kind == "experiment":
            return "experiment", value, ""
        if kind == "model":
            return "registered_model", value, ""
        if kind in ("run", "logged_model"):
            return "experiment", perms.experiment_of(kind, value, cached_only), kind
        if kind == "experiment_name":
            if cached_only:
                raise CacheMiss
            return "experiment", perms.store.experiment_id_by_name(value), ""
        if kind == "artifact":
            first = value.strip("/").split("/", 1)[0]
            if not first.isdigit():
                if cached_only:
                    raise CacheMiss
                raise PermissionDenied(
                    "Only an admin may reach artifacts outside an experiment's folder."
                )
            return "experiment", first, "run"
        raise PermissionDenied(f"Unknown resource kind {kind!r} in a route rule.")


def csrf_ok(scope: Scope, body: bytes) -> bool:
    """Does a posted UI form carry the session's CSRF token?"""
    viewer = scope.get(VIEWER_KEY)
    if not viewer:
        return True  # signed in by an Authorization header: no cookie to ride on
    form = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    return hmac.compare_digest(form.get("csrf", ""), str(viewer["csrf"]))


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body, and give the handler a `receive` that replays it."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def install_guards(routes: Iterable[BaseRoute], permissions: Permissions) -> list[str]:
    """Wrap every route in its rule's Guard; returns routes that had no rule."""
    rules = all_rules()
    unruled: list[str] = []
    for route in routes:
        path = getattr(route, "path", "")
        if isinstance(route, Mount):
            rule = rule_for(rules, "GET", path)
            if rule is None or rule.need != "public":
                unruled.append(f"GET {path}")
            continue  # static files: public
        if not isinstance(route, Route):
            unruled.append(f"? {path}")
            continue
        methods = route_methods(route)
        found = [rule_for(rules, m, path) for m in methods]
        rule = found[0]
        if rule is None or any(f != rule for f in found):
            unruled.extend(f"{m} {path}" for m, f in zip(methods, found, strict=True) if f is None)
            rule = ADMIN if rule is None else rule
        ui = not path.startswith(_NOT_UI)
        route.app = Guard(route.app, rule, permissions, ui)
    return unruled


class RealmOn401:
    """Add MLflow's `WWW-Authenticate: Basic realm="mlflow"` to every 401 API answer.

    Not to HTML pages (the login form's "wrong password"): a browser would put
    up its own Basic-auth dialog instead of showing the page.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_realm(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                headers = message.get("headers", [])
                html = any(k == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                if not html:
                    message = {**message, "headers": [*headers, REALM_HEADER]}
            await send(message)

        await self.app(scope, receive, send_with_realm)
