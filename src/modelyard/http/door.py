"""The door every request passes: identify the caller, then check permission.

This is the seam authentication and authorisation plug into. With auth off
the caller is identified from the `Authorization: Basic` user name when one
is sent (what MLflow clients send with MLFLOW_TRACKING_USERNAME), else
anonymous, and the policy admits every request. With `--auth`, `create_app`
passes `http/auth_guard.AuthIdentifier` (verified Basic or Bearer
credentials, or the UI's session cookie; an identifier may return an
awaitable when verifying needs the thread pool) and puts a guard with its
rule around every route (`http/auth_rules.py`).
The identity is put in the ASGI scope, where handlers read it to record who
did what (e.g. in the promotion history).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.http.errors import render_error

SCOPE_KEY = "modelyard.identity"


@dataclass(frozen=True)
class Identity:
    user: str | None  # None: anonymous

    @property
    def anonymous(self) -> bool:
        return self.user is None


ANONYMOUS = Identity(None)


class Identifier(Protocol):
    def __call__(self, scope: Scope) -> Identity | Awaitable[Identity]:
        """The caller; an awaitable when verifying needs the thread pool."""


class Policy(Protocol):
    def check(self, identity: Identity, method: str, path: str) -> None:
        """Raise PermissionDenied / Unauthenticated to refuse the request."""


def identify_from_basic_auth(scope: Scope) -> Identity:
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value[:6].lower() == b"basic ":
            try:
                decoded = base64.b64decode(value[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return ANONYMOUS
            user = decoded.split(":", 1)[0]
            return Identity(user or None)
    return ANONYMOUS


class AdmitAll:
    """The policy until authentication lands: every identity may do everything."""

    def check(self, identity: Identity, method: str, path: str) -> None:
        return None


class Door:
    def __init__(
        self,
        app: ASGIApp,
        identify: Identifier = identify_from_basic_auth,
        policy: Policy | None = None,
    ) -> None:
        self.app = app
        self.identify = identify
        self.policy: Policy = policy or AdmitAll()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            found = self.identify(scope)
            identity = found if isinstance(found, Identity) else await found
            self.policy.check(identity, scope["method"], scope["path"])
        except Exception as exc:
            await render_error(exc)(scope, receive, send)
            return
        scope[SCOPE_KEY] = identity
        await self.app(scope, receive, send)
