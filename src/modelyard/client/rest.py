"""The client's one HTTP connection: tracking URI, requests, errors.

`Rest` wraps an `httpx.Client` around a tracking server's base URL and turns
every answer into a JSON dict or into the `modelyard.errors` class the
server's error code names (`error_from_dict`), so client code catches the
same exceptions the server raises. A server that cannot be reached becomes
`ServerUnreachable`, naming the URL. The transport is injectable: tests pass
one that runs the real app in-process.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from modelyard.errors import (
    EndpointNotFound,
    InvalidParameterValue,
    ModelyardError,
    TemporarilyUnavailable,
    error_from_dict,
)

Json = dict[str, Any]

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"
TRACKING_URI_VARS = ("MODELYARD_TRACKING_URI", "MLFLOW_TRACKING_URI")
MLFLOW_API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
MODELYARD_API = "/api/modelyard/v1"

# MLflow's client waits up to 120 s for an answer; connecting is quicker or never.
TIMEOUT = httpx.Timeout(120.0, connect=10.0)
# Statuses that mean "the server did not act, ask again" (MLflow retries these too).
RETRY_STATUSES = frozenset((429, 503))
RETRIES = 3
BACKOFF_SECONDS = 0.25

# A non-JSON error answer (a proxy, an older server, a route that does not
# exist) still becomes one of our classes: its status picks the code.
_CODE_FOR_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
}

_tracking_uri: str | None = None


class ServerUnreachable(TemporarilyUnavailable):
    """No answer from the tracking server (refused, DNS, timeout, TLS)."""


class InvalidArgument(InvalidParameterValue):
    """Refused by the client before any request: a malformed URI, a missing file."""


def set_tracking_uri(uri: str | None) -> None:
    """Set the tracking server for this process (None: back to the environment)."""
    global _tracking_uri
    _tracking_uri = None if uri is None else _checked_uri(uri)


def get_tracking_uri() -> str:
    """`set_tracking_uri`, else `MODELYARD_TRACKING_URI`, else `MLFLOW_TRACKING_URI`,
    else http://127.0.0.1:5000 (where `modelyard server` listens by default)."""
    if _tracking_uri is not None:
        return _tracking_uri
    for var in TRACKING_URI_VARS:
        value = os.environ.get(var)
        if value:
            return _checked_uri(value)
    return DEFAULT_TRACKING_URI


def _checked_uri(uri: str) -> str:
    parts = urlsplit(uri.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(
            f"Tracking URI {uri!r} is not an http(s):// URL; the modelyard client talks "
            "to a tracking server over HTTP (e.g. http://127.0.0.1:5000)."
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def encode_float(value: float) -> float | str:
    """Protobuf JSON spelling of a double: non-finite values as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _auth_from_env() -> tuple[httpx.Auth | None, dict[str, str]]:
    """Credentials from MODELYARD_TRACKING_{TOKEN,USERNAME,PASSWORD}, else MLflow's
    MLFLOW_TRACKING_*: a token is sent as Bearer, a user name and password as Basic."""
    for prefix in ("MODELYARD_TRACKING_", "MLFLOW_TRACKING_"):
        token = os.environ.get(f"{prefix}TOKEN")
        if token:
            return None, {"Authorization": f"Bearer {token}"}
        user = os.environ.get(f"{prefix}USERNAME")
        if user:
            return httpx.BasicAuth(user, os.environ.get(f"{prefix}PASSWORD", "")), {}
    return None, {}


_CREDENTIALS_HINT = (
    " Sign in with MODELYARD_TRACKING_USERNAME and MODELYARD_TRACKING_PASSWORD, or an "
    "access token in MODELYARD_TRACKING_TOKEN (MLflow's MLFLOW_TRACKING_* work too)."
)


class Rest:
    """Requests to one tracking server. Thread-safe (httpx.Client is)."""

    def __init__(
        self, tracking_uri: str | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.tracking_uri = _checked_uri(tracking_uri) if tracking_uri else get_tracking_uri()
        parts = urlsplit(self.tracking_uri)
        auth: httpx.Auth | None
        auth, headers = _auth_from_env()
        netloc = parts.netloc
        if "@" in netloc:  # credentials in the URI: http://user:pass@host
            userinfo, netloc = netloc.rsplit("@", 1)
            user, _, password = userinfo.partition(":")
            auth = httpx.BasicAuth(user, password)
        self.base_url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        insecure = os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true"
        self.http = httpx.Client(
            transport=transport,
            timeout=TIMEOUT,
            auth=auth,
            headers={"User-Agent": "modelyard-client", **headers},
            verify=not insecure,
            follow_redirects=True,
        )

    def _lost(self, method: str, path: str, exc: httpx.TransportError) -> ServerUnreachable:
        if isinstance(exc, httpx.TimeoutException):
            return ServerUnreachable(
                f"The tracking server at {self.base_url} did not answer {method} {path} "
                f"in time ({type(exc).__name__})."
            )
        return ServerUnreachable(
            f"Lost the connection to the tracking server at {self.base_url} during "
            f"{method} {path}: {exc or type(exc).__name__}"
        )

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        """`path` under the tracking URI; absolute URLs (another artifact host) as given."""
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    # -- JSON endpoints --------------------------------------------------------
    def mlflow(self, method: str, endpoint: str, body: Json | None = None) -> Json:
        """Call `/api/2.0/mlflow/<endpoint>`: GET sends `body` as query parameters."""
        return self.call(method, f"{MLFLOW_API}/{endpoint}", body)

    def modelyard(self, method: str, endpoint: str, body: Json | None = None) -> Json:
        """Call modelyard's own API (`/api/modelyard/v1/<endpoint>`)."""
        try:
            return self.call(method, f"{MODELYARD_API}/{endpoint}", body)
        except EndpointNotFound as exc:
            raise EndpointNotFound(
                f"The server at {self.base_url} has no {MODELYARD_API}/{endpoint}: promotion "
                "history, stage holders and rollback need a modelyard server."
            ) from exc

    def call(self, method: str, path: str, body: Json | None = None) -> Json:
        body = {k: v for k, v in (body or {}).items() if v is not None}
        if method == "GET":
            response = self.send(method, path, params=httpx.QueryParams(_query(body)))
        else:
            response = self.send(
                method,
                path,
                content=json.dumps(body, separators=(",", ":")).encode(),
                headers={"Content-Type": "application/json"},
            )
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            raise ModelyardError(
                f"{method} {self.url(path)} answered HTTP {response.status_code} with a "
                "body that is not JSON: is this an MLflow tracking server?"
            ) from None
        if not isinstance(answer, dict):
            raise ModelyardError(f"{method} {self.url(path)} answered unexpected JSON")
        return answer

    def send(
        self,
        method: str,
        path: str,
        *,
        params: httpx.QueryParams | None = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request with its answer read; errors raised as our classes."""
        with self.stream(method, path, params=params, content=content, headers=headers) as r:
            r.read()
            return r

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: httpx.QueryParams | None = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """A request whose successful answer the caller reads as a stream."""
        url = self.url(path)
        # A streamed body cannot be sent twice: only retry what we can replay.
        attempts = RETRIES if content is None or isinstance(content, bytes) else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                with self.http.stream(
                    method, url, params=params, content=content, headers=headers
                ) as response:
                    if response.is_success:
                        break_out = True
                    elif response.status_code in RETRY_STATUSES and not last:
                        break_out = False
                    else:
                        response.read()
                        raise error_from_response(response)
                    if break_out:
                        try:
                            yield response
                        except httpx.TransportError as exc:
                            raise self._lost(method, path, exc) from exc
                        return
            except httpx.ConnectError as exc:
                # Nothing reached the server: safe to try again, then give up clearly.
                if last:
                    raise ServerUnreachable(
                        f"Cannot reach the tracking server at {self.base_url}: {exc}. "
                        "Is it running? Set the URL with --tracking-uri or "
                        "MODELYARD_TRACKING_URI / MLFLOW_TRACKING_URI."
                    ) from exc
            except httpx.TransportError as exc:
                raise self._lost(method, path, exc) from exc
            time.sleep(BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _query(body: Json) -> list[tuple[str, str | int | float | bool | None]]:
    """GET parameters as MLflow sends them: lists repeat the key, bools lower-case."""
    out: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in body.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            out.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return out


def error_from_response(response: httpx.Response) -> ModelyardError:
    """The error an answer carries: MLflow's JSON body when there is one."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_code" in body:
        if status == 401:  # say how to sign in, not just that it failed
            body = {**body, "message": f"{body.get('message', '')}{_CREDENTIALS_HINT}"}
        elif status == 403:
            body = {**body, "message": f"Permission denied: {body.get('message', '')}"}
        return error_from_dict(body, status)
    # Plain-text bodies say something useful (MLflow's 503 when artifact serving
    # is off); HTML error pages do not.
    html = "html" in response.headers.get("content-type", "")
    text = "" if html else " ".join(response.text.split())[:300]
    request = response.request
    message = f"{request.method} {request.url} answered HTTP {status}" + (
        f": {text}" if text else ""
    )
    code = _CODE_FOR_STATUS.get(status, "INTERNAL_ERROR")
    return error_from_dict({"error_code": code, "message": message}, status)
