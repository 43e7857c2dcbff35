"""The UI's sign-in: login page, signed session cookie, CSRF tokens, logout, admin page.

The session cookie is `user|expiry|nonce` signed with HMAC-SHA256 under a
random secret kept in the database (so every worker accepts it); it is
HttpOnly, SameSite=Lax and Secure when the request came over HTTPS. Each
session has a CSRF token derived from its nonce; every POST form of the UI
must carry it (`static/auth.js` adds it to each form from the page's meta
tag, `http/auth_guard.py` checks it), on top of the same-origin check the
UI already makes. Only used when authentication is on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from modelyard.errors import ModelyardError, PermissionDenied
from modelyard.http.auth_guard import VIEWER_KEY
from modelyard.http.auth_rules import ADMIN, PUBLIC, Rule
from modelyard.ui.render import Page, render

COOKIE = "modelyard_session"
SESSION_SECONDS = 8 * 3600


class Sessions:
    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self._key = secret.encode()
        self.clock = clock

    def _sign(self, data: bytes) -> str:
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

    def issue(self, username: str) -> str:
        expiry = int(self.clock()) + SESSION_SECONDS
        payload = f"{username}|{expiry}|{secrets.token_hex(16)}".encode()
        return base64.urlsafe_b64encode(payload).decode() + "." + self._sign(payload)

    def read(self, value: str) -> tuple[str, str] | None:
        """(user, nonce) of a valid, unexpired cookie value, else None."""
        encoded, _, signature = value.partition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded.encode())
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            user, expiry, nonce = payload.decode().rsplit("|", 2)
            if int(expiry) < self.clock():
                return None
        except ValueError:
            return None
        return user, nonce

    def _cookie(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(value.decode("latin-1"))
                except Exception:
                    return None
                morsel = jar.get(COOKIE)
                return morsel.value if morsel else None
        return None

    def user_of(self, scope: Scope) -> str | None:
        """The signed-in user, and the page's CSRF token put in the scope for templates."""
        value = self._cookie(scope)
        found = self.read(value) if value else None
        if found is None:
            return None
        user, nonce = found
        scope[VIEWER_KEY] = {"user": user, "csrf": self.csrf(nonce)}
        return user

    def csrf(self, nonce: str) -> str:
        return self._sign(b"csrf|" + nonce.encode())[:32]


def _safe_next(target: str | None) -> str:
    """Only a local path: never redirect a signed-in user to another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/experiments"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _users(request: Request) -> Any:
    users = request.app.state.services.extra.get("auth_users")
    if users is None:
        raise PermissionDenied(
            "Authentication is off on this server; there is nothing to sign in to."
        )
    return users


def _sessions(request: Request) -> Sessions:
    return Sessions(_users(request).store.secret("session"))


async def login_page(request: Request) -> Response:
    return render(
        request,
        Page(
            "login.html",
            {"next": _safe_next(request.query_params.get("next")), "error": None, "username": ""},
        ),
    )


async def login_submit(request: Request) -> Response:
    from modelyard.ui.web import check_same_origin

    check_same_origin(request)
    form = dict(
        parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    )
    username, password = form.get("username", ""), form.get("password", "")
    target = _safe_next(form.get("next"))
    users = _users(request)
    client = request.client
    try:
        caller = await run_in_threadpool(
            users.check_password, username, password, client.host if client else "unknown"
        )
    except ModelyardError as exc:
        page = Page(
            "login.html",
            {"next": target, "error": exc.message, "username": username},
            status=exc.http_status,
        )
        return render(request, page)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        _sessions(request).issue(caller.username),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _admin_context(request: Request) -> dict[str, Any]:
    users = _users(request)
    people = users.list_users()
    grants = {u.username: users.store.grants_of_user(u.id) for u in people}
    return {
        "people": people,
        "grants": grants,
        "tokens": users.list_tokens(None),
        "levels": (
            "READ",
            "EDIT",
            "MANAGE_STAGING_VERSIONS",
            "MANAGE_PRODUCTION_VERSIONS",
            "MANAGE",
            "NO_PERMISSIONS",
        ),
        "message": request.query_params.get("done", ""),
    }


async def admin_page(request: Request) -> Response:
    context = await run_in_threadpool(_admin_context, request)
    return render(request, Page("admin.html", context))


async def admin_action(request: Request) -> Response:
    """The admin page's forms: create a user, grant on a model or experiment, revoke a token."""
    from modelyard.service.auth_grants import Grants
    from modelyard.ui.web import check_same_origin

    check_same_origin(request)
    form = dict(
        parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    )
    users = _users(request)
    action = form.get("action")

    def apply() -> str:
        if action == "create-user":
            users.create_user(form.get("username"), form.get("password"))
            return f"created user {form.get('username')}"
        if action == "grant":
            kind = "experiment" if form.get("kind") == "experiment" else "registered_model"
            Grants(users.store, users.permissions).grant(
                form.get("username"), kind, form.get("resource"), form.get("permission")
            )
            who, what = form.get("username"), form.get("resource")
            return f"granted {form.get('permission')} on {what} to {who}"
        if action == "revoke-token":
            users.revoke_token(form.get("username"), form.get("name"))
            return f"revoked token {form.get('name')} of {form.get('username')}"
        raise PermissionDenied(f"Unknown admin action {action!r}.")

    done = await run_in_threadpool(apply)
    from urllib.parse import quote

    return RedirectResponse(f"/admin?done={quote(done)}", status_code=303)


RAW_ROUTES: list[BaseRoute] = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/admin", admin_page, methods=["GET"]),
    Route("/admin", admin_action, methods=["POST"]),
]

PERMISSIONS: dict[tuple[str, str], Rule] = {
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/admin"): ADMIN,
    ("POST", "/admin"): ADMIN,
}
