"""Users, passwords, access tokens, and turning credentials into a user.

Passwords are hashed with argon2id (argon2-cffi's defaults, tens of
milliseconds by design). Checking that on every request would cost more than
the request, so a verified credential is remembered for `CREDENTIAL_SECONDS`
in process memory, keyed by a SHA-256 digest of the header (never the
secret itself). Changing a password, an admin flag, deleting a user or
revoking a token clears the memory of this process at once.

Access tokens are 256-bit random strings shown once; only their SHA-256 is
stored. Failed logins are counted per user name and per client address in a
sliding window; past the limit the caller gets 429 until the window moves.
Nothing here logs a password or a token.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from modelyard.errors import (
    InvalidParameterValue,
    ModelyardError,
    Unauthenticated,
)
from modelyard.service.permissions import Permissions, TtlCache
from modelyard.store.sql.auth import SqlAuthStore, Token, User

log = logging.getLogger("modelyard.auth")

CREDENTIAL_SECONDS = 30.0
FAIL_WINDOW_SECONDS = 300.0
MAX_FAILS_PER_USER = 10
MAX_FAILS_PER_ADDRESS = 50
TOKEN_PREFIX = "myd_"
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}$")
MIN_PASSWORD = 8


class TooManyAttempts(ModelyardError):
    code = "REQUEST_LIMIT_EXCEEDED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Caller:
    """Who a verified credential belongs to."""

    username: str
    is_admin: bool


@dataclass(frozen=True)
class NewToken:
    token: Token
    secret: str  # shown once, never stored


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_username(username: str | None) -> str:
    if not username or not _USERNAME.match(username):
        raise InvalidParameterValue(
            f"Invalid username {username!r}: use 1-255 letters, digits and . _ @ + - "
            "starting with a letter or digit."
        )
    return username


def validate_password(password: str | None) -> str:
    if password is None or len(password) < MIN_PASSWORD:
        raise InvalidParameterValue(
            f"The password must be at least {MIN_PASSWORD} characters long."
        )
    return password


class Throttle:
    """Sliding-window counts of failed logins, per user name and per address."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] < now - FAIL_WINDOW_SECONDS:
            q.popleft()
        return q

    def check(self, username: str | None, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key, limit in (
                (f"u:{username}", MAX_FAILS_PER_USER),
                (f"a:{address}", MAX_FAILS_PER_ADDRESS),
            ):
                if key == "u:None":
                    continue
                q = self._recent(key, now)
                if len(q) >= limit:
                    wait = int(q[0] + FAIL_WINDOW_SECONDS - now) + 1
                    who = "this user" if key.startswith("u:") else "this address"
                    raise TooManyAttempts(
                        f"Too many failed logins for {who}; try again in {wait} seconds.", wait
                    )

    def failed(self, username: str | None, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._fails) > 100_000:
                self._fails.clear()
            if username is not None:
                self._recent(f"u:{username}", now).append(now)
            self._recent(f"a:{address}", now).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._fails.pop(f"u:{username}", None)


class AuthUsers:
    """User and token management, and credential verification."""

    def __init__(
        self,
        store: SqlAuthStore,
        permissions: Permissions,
        clock: Callable[[], int],
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.store = store
        self.permissions = permissions
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self.throttle = Throttle()
        self._verified = TtlCache(CREDENTIAL_SECONDS)

    def _changed(self) -> None:
        self._verified.clear()
        self.permissions.changed()

    # -- users ------------------------------------------------------------------
    def create_user(
        self, username: str | None, password: str | None, is_admin: bool = False
    ) -> User:
        name = validate_username(username)
        secret = validate_password(password)
        user = self.store.create_user(name, self.hasher.hash(secret), is_admin, self.clock())
        self._changed()
        return user

    def get_user(self, username: str | None) -> User:
        if not username:
            raise InvalidParameterValue("Missing value for required parameter 'username'.")
        return self.store.get_user(username)

    def list_users(self) -> list[User]:
        return self.store.list_users()

    def update_password(self, username: str | None, password: str | None) -> None:
        user = self.get_user(username)
        self.store.set_password_hash(user.username, self.hasher.hash(validate_password(password)))
        self._changed()

    def update_admin(self, username: str | None, is_admin: bool) -> None:
        user = self.get_user(username)
        if user.is_admin and not is_admin and self.store.count_admins() <= 1:
            raise InvalidParameterValue(
                f"'{user.username}' is the last admin; make another user admin first."
            )
        self.store.set_admin(user.username, is_admin)
        self._changed()

    def delete_user(self, username: str | None) -> None:
        user = self.get_user(username)
        if user.is_admin and self.store.count_admins() <= 1:
            raise InvalidParameterValue(
                f"'{user.username}' is the last admin; make another user admin first."
            )
        self.store.delete_user(user.username)
        self._changed()

    def ensure_admin(self, username: str, password: str | None) -> bool:
        """Create the first admin from the environment; True when one exists afterwards."""
        existing = self.store.find_user(username)
        if existing is not None:
            if not existing.is_admin:
                self.store.set_admin(username, True)
            return True
        if password:
            self.create_user(username, password, is_admin=True)
            log.info("created admin user %s", username)
            return True
        return self.store.count_admins() > 0

    # -- tokens -----------------------------------------------------------------
    def create_token(
        self, username: str | None, name: str | None, expires_in_days: float | None = None
    ) -> NewToken:
        user = self.get_user(username)
        if not name or len(name) > 100:
            raise InvalidParameterValue("A token needs a name of 1-100 characters.")
        expiry = None
        if expires_in_days is not None:
            if expires_in_days <= 0:
                raise InvalidParameterValue("expires_in_days must be positive.")
            expiry = self.clock() + int(expires_in_days * 86_400_000)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.store.create_token(user.id, name, token_digest(secret), self.clock(), expiry)
        tokens = [t for t in self.store.list_tokens(user.username) if t.name == name]
        return NewToken(tokens[0], secret)

    def list_tokens(self, username: str | None) -> list[Token]:
        return self.store.list_tokens(username)

    def revoke_token(self, username: str | None, name: str | None) -> None:
        user = self.get_user(username)
        if not name:
            raise InvalidParameterValue("Missing value for required parameter 'name'.")
        self.store.delete_token(user.username, name)
        self._changed()

    # -- credentials --------------------------------------------------------------
    def cached_caller(self, authorization: bytes) -> Caller | None:
        """The caller of a header verified in the last `CREDENTIAL_SECONDS`, else None."""
        found: Caller | None = self._verified.get(hashlib.sha256(authorization).digest())
        return found

    def authenticate(self, authorization: bytes, address: str) -> Caller:
        """Verify an Authorization header value (Basic or Bearer); raise 401 or 429."""
        key = hashlib.sha256(authorization).digest()
        cached: Caller | None = self._verified.get(key)
        if cached is not None:
            return cached
        scheme, _, rest = authorization.partition(b" ")
        scheme = scheme.lower()
        if scheme == b"basic":
            username, password = _basic_pair(rest.strip())
            caller = self._verify_password(username, password, address)
        elif scheme == b"bearer":
            caller = self._verify_token(rest.strip().decode("latin-1"), address)
        else:
            raise Unauthenticated("Use HTTP Basic credentials or a Bearer access token.")
        self._verified.put(key, caller)
        return caller

    def check_password(self, username: str, password: str, address: str) -> Caller:
        """The login form's check: same throttling as the header."""
        return self._verify_password(username, password, address)

    def _verify_password(self, username: str, password: str, address: str) -> Caller:
        self.throttle.check(username, address)
        user = self.store.find_user(username)
        ok = False
        if user is not None:
            try:
                ok = self.hasher.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
        else:
            # Spend the same time on an unknown name, so timing does not reveal users.
            with contextlib.suppress(VerificationError, InvalidHashError):
                self.hasher.verify(_DUMMY_HASH.get(self.hasher), password)
        if not ok or user is None:
            self.throttle.failed(username, address)
            log.warning("failed login for user %r from %s", username, address)
            raise Unauthenticated("Incorrect username or password.")
        self.throttle.succeeded(username)
        return Caller(user.username, user.is_admin)

    def _verify_token(self, secret: str, address: str) -> Caller:
        self.throttle.check(None, address)
        user = self.store.user_for_token(token_digest(secret), self.clock())
        if user is None:
            self.throttle.failed(None, address)
            log.warning("unknown or expired access token from %s", address)
            raise Unauthenticated("The access token is unknown, revoked or expired.")
        return Caller(user.username, user.is_admin)


def _basic_pair(encoded: bytes) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated(
            "The Basic credentials are not valid base64 of user:password."
        ) from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise Unauthenticated("The Basic credentials are not valid base64 of user:password.")
    return username, password


class _DummyHash:
    """A hash of a random password, made once per hasher, for unknown user names."""

    def __init__(self) -> None:
        self._by_hasher: dict[int, str] = {}

    def get(self, hasher: PasswordHasher) -> str:
        key = id(hasher)
        if key not in self._by_hasher:
            self._by_hasher[key] = hasher.hash(secrets.token_hex(16))
        return self._by_hasher[key]


_DUMMY_HASH = _DummyHash()


def admin_from_env(environ: Mapping[str, str]) -> tuple[str, str | None]:
    """The first admin's name and password: MODELYARD_ADMIN_*, then MLflow's MLFLOW_AUTH_ADMIN_*."""
    username = (
        environ.get("MODELYARD_ADMIN_USERNAME")
        or environ.get("MLFLOW_AUTH_ADMIN_USERNAME")
        or "admin"
    )
    password = environ.get("MODELYARD_ADMIN_PASSWORD") or environ.get("MLFLOW_AUTH_ADMIN_PASSWORD")
    return username, password or None
