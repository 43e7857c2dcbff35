"""Helpers for authentication tests: credentials, the admin, calls as the admin.

Users are created through the REST API as the admin, the way an operator
would; passwords are long enough for the server's rule.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

ADMIN = ("admin", "admin-password-1")
PASSWORD = "user-password-1"


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


ADMIN_HEADERS = basic(*ADMIN)
ADMIN_ENV = {"MODELYARD_ADMIN_USERNAME": ADMIN[0], "MODELYARD_ADMIN_PASSWORD": ADMIN[1]}


def api(client: httpx.Client, method: str, path: str, body: dict | None = None, **kw: object):
    """Call the API as the admin; raise on an error answer."""
    url = path if path.startswith("/") else f"/api/2.0/mlflow/{path}"
    if method == "GET":
        resp = client.get(url, params=body, headers=ADMIN_HEADERS)
    else:
        resp = client.request(method, url, json=body or {}, headers=ADMIN_HEADERS)
    assert resp.status_code == 200, resp.text
    return resp.json()


def make_user(client: httpx.Client, name: str) -> None:
    api(client, "POST", "users/create", {"username": name, "password": PASSWORD})


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yields its URL.

    The socket listens before the thread starts, so there is nothing to wait for.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    host, port = sock.getsockname()
    # A long keep-alive: between tests the client's pooled connection may sit idle for
    # seconds on a loaded machine, and uvicorn's default (5 s) would close it under it.
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", http="httptools", timeout_keep_alive=600
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
