"""Promotion requests in the browser: alice (no Production right) requests, the
Models page marks the model, bob (Production right) approves, the timeline
shows the trail. The app runs in-process with an `Access` double granting
rights per Basic-auth user, as authentication will; each browser context sends
its user's Basic credentials."""

from __future__ import annotations

import base64
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from access_double import StageRights
from asgi_app import starlette_app

from modelyard.app import create_app
from modelyard.settings import Settings

API = "/api/2.0/mlflow"


@contextmanager
def serve(app: Any) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def gated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("approvals-ui")
    app = create_app(
        Settings(
            backend_store_uri=f"sqlite:///{data / 'modelyard.db'}",
            artifacts_destination=str(data / "artifacts"),
            require_approval="Production",
        )
    )
    starlette_app(app).state.services.access = StageRights({"bob": {"Production"}})
    with serve(app) as url:
        yield url


def _basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:x".encode()).decode()


@contextmanager
def page_as(browser: Any, url: str, user: str) -> Iterator[Any]:
    context = browser.new_context(base_url=url, extra_http_headers={"Authorization": _basic(user)})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def _post(url: str, path: str, body: dict[str, Any], user: str = "bob") -> dict[str, Any]:
    resp = httpx.post(f"{url}{API}/{path}", json=body, auth=(user, "x"), timeout=30)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_request_then_approve_in_the_browser(browser: Any, gated_server: str) -> None:
    from playwright.sync_api import expect

    url = gated_server
    name = f"mnist_test_{uuid.uuid4().hex[:8]}"
    run_id = _post(url, "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    _post(url, "registered-models/create", {"name": name})
    for _ in range(2):
        _post(url, "model-versions/create", {"name": name, "source": f"runs:/{run_id}/m"})
    _post(url, "model-versions/transition-stage", {"name": name, "version": "1",
          "stage": "Production"})  # fmt: skip

    with page_as(browser, url, "alice") as page:
        page.goto(f"/models/{name}/versions/2")
        # No direct move to Production for alice (disabled, with the reason): a request instead.
        expect(page.locator(".stage-move-production")).to_have_attribute("aria-disabled", "true")
        expect(page.locator(".stage-move-staging")).to_have_count(1)
        page.get_by_label("Requested stage").select_option("Production")
        page.get_by_label("Request comment").fill("accuracy 0.981")
        page.get_by_role("button", name="Request promotion").click()
        expect(page.get_by_role("status")).to_contain_text("Promotion requested.")
        request = page.locator(".open-request")
        expect(request).to_contain_text("alice asks to move this version")
        expect(request).to_contain_text("accuracy 0.981")
        expect(request.get_by_role("button", name="Approve")).to_have_count(0)
        expect(request.get_by_role("button", name="Cancel request")).to_have_count(1)

        page.goto("/models")
        row = page.locator(f'tr[data-model="{name}"]')
        expect(row.locator(".open-requests-mark")).to_have_text("1 open request")

    with page_as(browser, url, "bob") as page:
        page.goto(f"/models/{name}/versions/2")
        request = page.locator(".open-request")
        request.get_by_label("Decision comment").fill("reviewed")
        request.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("status").first).to_contain_text("Request approved")
        expect(page.locator("#current-stage")).to_contain_text("Production")
        expect(page.locator(".open-request")).to_have_count(0)

        page.goto(f"/models/{name}")
        timeline = page.locator(".timeline")
        expect(timeline).to_contain_text(re.compile(r"request for\s+Production\s+approved"))
        expect(timeline).to_contain_text("promotion to Production requested")
        expect(timeline).to_contain_text("archived because another version took Production")
        expect(page.locator(f'a[href="/models/{name}/versions/1"]').first).to_be_visible()


def test_refused_direct_move_page_says_how_to_request(browser: Any, gated_server: str) -> None:
    from playwright.sync_api import expect

    url = gated_server
    name = f"mnist_test_{uuid.uuid4().hex[:8]}"
    run_id = _post(url, "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    _post(url, "registered-models/create", {"name": name})
    _post(url, "model-versions/create", {"name": name, "source": f"runs:/{run_id}/m"})
    with page_as(browser, url, "alice") as page:
        # A hand-made confirmation link still goes through the service's gate.
        page.goto(f"/models/{name}/versions/1/stage?to=Production")
        page.locator("#confirm-stage").click()
        expect(page.locator("body")).to_contain_text("requires approval to enter Production")
