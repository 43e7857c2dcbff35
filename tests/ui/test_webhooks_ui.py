"""The Webhooks pages in a real browser: the list, one webhook's delivery log,
and Redeliver, against a server allowed to call a receiver on loopback."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import ServerProcess, modelyard_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webhooks"))
from receiver import Receiver, running_receiver

from modelyard.client import Client

FLAGS = ["--webhook-allow-http", "--webhook-allow-private", "--webhook-poll-ms", "50"]


@pytest.fixture(scope="module")
def hooks_ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with modelyard_server(tmp_path_factory.mktemp("hooks-ui"), extra_args=FLAGS) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def test_delivery_log_and_redeliver_in_the_browser(
    browser: Any, hooks_ui_server: ServerProcess, receiver: Receiver
) -> None:
    from playwright.sync_api import expect

    name = f"ui-hook-{uuid.uuid4().hex[:8]}"
    with Client(hooks_ui_server.url) as c:
        hook = c.create_registry_webhook(
            ["REGISTERED_MODEL_CREATED"], receiver.url, description="announce models"
        )
        c.create_registered_model(name)
    receiver.wait_for(lambda r: r.json()["model_name"] == name)
    context = browser.new_context(base_url=hooks_ui_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/models")
        page.get_by_role("link", name="Webhooks").click()
        expect(page.locator("#webhooks-table")).to_contain_text("REGISTERED_MODEL_CREATED")
        page.get_by_role("link", name=hook.webhook_id).click()
        row = page.locator("tr.delivery").first
        expect(row).to_contain_text("DELIVERED")
        expect(row).to_contain_text("HTTP 200")
        expect(row).to_contain_text(name)
        if os.environ.get("MODELYARD_SCREENSHOTS"):
            page.screenshot(path=os.environ["MODELYARD_SCREENSHOTS"], full_page=True)
        row.get_by_role("button", name="Redeliver").click()
        expect(page.get_by_role("status")).to_contain_text("Delivery queued again")
    finally:
        context.close()
    again = receiver.wait_for(lambda r: r.json()["model_name"] == name, count=2)
    assert len({r.headers["X-Modelyard-Delivery-Id"] for r in again}) == 1
    with Client(hooks_ui_server.url) as c:
        c.delete_registry_webhook(hook.webhook_id)
