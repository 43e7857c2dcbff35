"""The light client's webhook calls, `modelyard webhooks ...` and the webhook
pages, against a live server and a real receiver."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import pytest
from receiver import Receiver
from servers import ServerProcess

from modelyard.cli import main
from modelyard.client import Client

Result = tuple[int, str, str]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*argv: str) -> Result:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _settled(c: Client, webhook_id: str, count: int) -> list[str]:
    deadline = time.monotonic() + 30
    while True:
        statuses = [d.status for d in c.list_webhook_deliveries(webhook_id).items]
        if (len(statuses) >= count and "pending" not in statuses) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.05)  # polling with a deadline


def test_light_client_log_and_redeliver(hook_server: ServerProcess, receiver: Receiver) -> None:
    name = f"lc-{uuid.uuid4().hex[:8]}"
    with Client(hook_server.url) as c:
        c.create_registered_model(name)
        hook = c.create_registry_webhook(["MODEL_VERSION_TAG_SET"], receiver.url, model_name=name)
        assert [w.webhook_id for w in c.list_registry_webhooks(model_name=name).items] == [
            hook.webhook_id
        ]
        run = c.create_run("0")
        c.create_model_version(name, f"runs:/{run.info.run_id}/m", run_id=run.info.run_id)
        c.set_model_version_tag(name, 1, "validated", "yes")
        [first] = receiver.wait_for(lambda r: r.json()["model_name"] == name)
        assert first.json()["tags"] == [{"key": "validated", "value": "yes"}]
        assert _settled(c, hook.webhook_id, 1) == ["delivered"]
        [d] = c.list_webhook_deliveries(hook.webhook_id).items
        assert (d.event_name, d.attempts, d.attempt_log[0].status_code) == (
            "MODEL_VERSION_TAG_SET",
            1,
            200,
        )
        c.redeliver_webhook(hook.webhook_id, d.delivery_id)
        again = receiver.wait_for(lambda r: r.json()["model_name"] == name, count=2)
        assert {r.headers["X-Modelyard-Delivery-Id"] for r in again} == {d.delivery_id}
        assert c.test_registry_webhook(hook.webhook_id)["status_code"] == 200
        c.delete_registry_webhook(hook.webhook_id)
        assert c.list_registry_webhooks(model_name=name).items == []


def test_cli_create_list_deliveries_disable_delete(
    hook_server: ServerProcess,
    receiver: Receiver,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = hook_server.url
    monkeypatch.setenv("HOOK_SECRET", "from-the-environment")
    code, out, err = cli(
        "webhooks", "create", "--tracking-uri", url, "--url", receiver.url,
        "--event", "registered_model.created", "--name", "cli-hook",
        "--secret-env", "HOOK_SECRET", "--json",
    )  # fmt: skip
    assert code == 0, err
    webhook_id = json.loads(out)["webhook_id"]
    code, out, _ = cli("webhooks", "list", "--tracking-uri", url)
    assert code == 0 and webhook_id in out and "cli-hook" in out
    with Client(url) as c:
        name = f"cli-{uuid.uuid4().hex[:8]}"
        c.create_registered_model(name)
        receiver.wait_for(lambda r: r.json()["data"]["name"] == name)
        _settled(c, webhook_id, 1)
    code, out, _ = cli("webhooks", "deliveries", webhook_id, "--tracking-uri", url)
    assert code == 0 and "registered_model.created" in out and "DELIVERED" in out
    assert "HTTP 200" in out
    code, out, _ = cli("webhooks", "disable", webhook_id, "--tracking-uri", url)
    assert code == 0 and "DISABLED" in out
    code, out, _ = cli("webhooks", "test", webhook_id, "--tracking-uri", url)
    assert code == 0 and "receiver answered 200" in out
    code, _, err = cli(
        "webhooks", "create", "--tracking-uri", url, "--url", receiver.url,
        "--event", "model_version.created", "--event", "MODEL_VERSION_CREATED", "--name", "x",
    )  # fmt: skip
    assert code == 2 and "mix" in err
    code, out, _ = cli("webhooks", "delete", webhook_id, "--tracking-uri", url)
    assert code == 0
    code, _, err = cli("webhooks", "deliveries", webhook_id, "--tracking-uri", url)
    assert code == 1 and "not found" in err


def test_ui_lists_webhooks_shows_the_log_and_redelivers(
    hook_server: ServerProcess, receiver: Receiver
) -> None:
    import httpx

    name = f"ui-{uuid.uuid4().hex[:8]}"
    with Client(hook_server.url) as c:
        hook = c.create_registry_webhook(["REGISTERED_MODEL_CREATED"], receiver.url)
        c.create_registered_model(name)
        receiver.wait_for(lambda r: r.json()["model_name"] == name)
        assert _settled(c, hook.webhook_id, 1) == ["delivered"]
        [d] = c.list_webhook_deliveries(hook.webhook_id).items
    with httpx.Client(base_url=hook_server.url, timeout=30) as web:
        listing = web.get("/webhooks")
        assert listing.status_code == 200 and f"/webhooks/{hook.webhook_id}" in listing.text
        page = web.get(f"/webhooks/{hook.webhook_id}")
        assert page.status_code == 200
        assert d.delivery_id in page.text and "DELIVERED" in page.text and "HTTP 200" in page.text
        posted = web.post(
            f"/webhooks/{hook.webhook_id}/deliveries/{d.delivery_id}/redeliver",
            headers={"Origin": hook_server.url},
        )
        assert posted.status_code == 303
        assert "Delivery queued again" in web.get(posted.headers["location"]).text
        # Same-origin rule: a cross-site form cannot trigger a redelivery.
        refused = web.post(
            f"/webhooks/{hook.webhook_id}/deliveries/{d.delivery_id}/redeliver",
            headers={"Origin": "https://evil.example"},
        )
        assert refused.status_code == 403
    again = receiver.wait_for(lambda r: r.json()["model_name"] == name, count=2)
    assert {r.headers["X-Modelyard-Delivery-Id"] for r in again} == {d.delivery_id}
    with Client(hook_server.url) as c:
        c.delete_registry_webhook(hook.webhook_id)
