"""Webhooks end to end: a live server (SQLite and PostgreSQL), the stock mlflow
client, databricks-sdk, and a real HTTP receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from receiver import Received, Receiver
from servers import ServerProcess

SECRET = "whsec-for-tests"
T = TypeVar("T")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _mlflow_verify(r: Received, secret: str) -> bool:
    """Verify as an MLflow receiver does, written from MLflow's documented scheme."""
    delivery_id = r.headers["X-MLflow-Delivery-Id"]
    timestamp = r.headers["X-MLflow-Timestamp"]
    signed = f"{delivery_id}.{timestamp}.".encode() + r.body
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    scheme, _, sig = r.headers["X-MLflow-Signature"].partition(",")
    return scheme == "v1" and hmac.compare_digest(sig.encode(), expected)


@pytest.fixture
def mlflow_client(hook_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", hook_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(hook_server.url)
    client = MlflowClient(hook_server.url, hook_server.url)
    created: list[str] = []
    yield client, created
    for webhook_id in created:
        client.delete_webhook(webhook_id)


@pytest.fixture
def workspace(hook_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from databricks.sdk import WorkspaceClient

    for var in [v for v in __import__("os").environ if v.startswith("DATABRICKS_")]:
        monkeypatch.delenv(var)
    w = WorkspaceClient(host=hook_server.url, token="unused-token", auth_type="pat")
    created: list[str] = []
    yield w, created
    for webhook_id in created:
        w.model_registry.delete_webhook(id=webhook_id)


def _source(client: Any) -> tuple[str, str]:
    run = client.create_run("0")
    return f"runs:/{run.info.run_id}/model", run.info.run_id


def _deliveries(server: ServerProcess, webhook_id: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{server.url}/api/2.0/mlflow/webhooks/{webhook_id}/deliveries", timeout=10)
    resp.raise_for_status()
    return list(resp.json().get("deliveries", []))


def _poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)  # polling with a deadline


def test_stock_mlflow_client_gets_signed_model_version_created(
    mlflow_client: Any, receiver: Receiver, tmp_path: Path
) -> None:
    from mlflow.entities.webhook import WebhookEvent, WebhookStatus

    client, created = mlflow_client
    hook = client.create_webhook(
        name="ci-trigger",
        url=f"{receiver.url}/hook",
        events=[WebhookEvent("model_version", "created")],
        secret=SECRET,
        description="deploy on new versions",
    )
    created.append(hook.webhook_id)
    assert hook.status == WebhookStatus.ACTIVE
    assert hook.secret is None  # never returned
    assert [str(e) for e in hook.events] == ["model_version.created"]
    assert hook.webhook_id in [w.webhook_id for w in client.list_webhooks()]

    name = _name("wh-mv")
    client.create_registered_model(name)
    source, run_id = _source(client)
    client.create_model_version(name, source, run_id=run_id, tags={"k": "v"})

    [got] = receiver.wait_for(
        lambda r: r.json()["data"].get("name") == name and r.json()["entity"] == "model_version"
    )
    assert _mlflow_verify(got, SECRET)
    assert not _mlflow_verify(got, "another-secret")
    body = got.json()
    assert (body["entity"], body["action"]) == ("model_version", "created")
    assert body["data"] == {
        "name": name,
        "version": "1",
        "source": source,
        "run_id": run_id,
        "tags": {"k": "v"},
        "description": None,
    }
    assert got.path == "/hook"
    # Not subscribed: registered_model.created was not sent to this webhook.
    assert not receiver.matching(lambda r: r.json()["entity"] == "registered_model")

    updated = client.update_webhook(hook.webhook_id, status=WebhookStatus.DISABLED)
    assert updated.status == WebhookStatus.DISABLED
    client.create_model_version(name, source, run_id=run_id)
    # The test endpoint still reaches a disabled webhook, with a verifiable signature.
    result = client.test_webhook(hook.webhook_id)
    assert result.success and result.response_status == 200
    tests = receiver.wait_for(lambda r: r.json()["data"].get("name") == "example_model")
    assert _mlflow_verify(tests[0], SECRET)
    # Disabled at once: version 2 produced no delivery (the test call came after it).
    assert [
        r.json()["data"]["version"]
        for r in receiver.matching(lambda r: r.json()["data"].get("name") == name)
    ] == ["1"]


def test_databricks_webhook_gets_production_and_displaced_archived(
    workspace: Any, mlflow_client: Any, receiver: Receiver, hook_server: ServerProcess
) -> None:
    from databricks.sdk.service.ml import HttpUrlSpec, RegistryWebhookEvent, RegistryWebhookStatus

    w, created = workspace
    client, _ = mlflow_client
    name = _name("wh-prod")
    client.create_registered_model(name)
    source, run_id = _source(client)
    client.create_model_version(name, source, run_id=run_id)
    client.create_model_version(name, source, run_id=run_id)
    client.transition_model_version_stage(name, "1", "Production")

    resp = w.model_registry.create_webhook(
        events=[
            RegistryWebhookEvent.MODEL_VERSION_TRANSITIONED_TO_PRODUCTION,
            RegistryWebhookEvent.MODEL_VERSION_TRANSITIONED_TO_ARCHIVED,
        ],
        model_name=name,
        http_url_spec=HttpUrlSpec(
            url=f"{receiver.url}/db", secret=SECRET, authorization="Bearer x"
        ),
        description="deploy",
    )
    hook = resp.webhook
    created.append(hook.id)
    assert hook.model_name == name and hook.status == RegistryWebhookStatus.ACTIVE
    assert hook.http_url_spec.url == f"{receiver.url}/db"
    listed = list(w.model_registry.list_webhooks(model_name=name))
    assert [h.id for h in listed] == [hook.id]

    client.transition_model_version_stage(name, "2", "Production")

    got = receiver.wait_for(lambda r: r.json().get("model_name") == name, count=2)
    by_event = {r.json()["event"]: r for r in got}
    assert set(by_event) == {
        "MODEL_VERSION_TRANSITIONED_TO_PRODUCTION",
        "MODEL_VERSION_TRANSITIONED_TO_ARCHIVED",
    }
    prod = by_event["MODEL_VERSION_TRANSITIONED_TO_PRODUCTION"].json()
    assert (prod["version"], prod["from_stage"], prod["to_stage"]) == ("2", "None", "Production")
    assert prod["webhook_id"] == hook.id
    assert (
        prod["text"] == f"Registered model '{name}' version 2 transitioned from None to Production."
    )
    archived = by_event["MODEL_VERSION_TRANSITIONED_TO_ARCHIVED"].json()
    assert (archived["version"], archived["from_stage"], archived["to_stage"]) == (
        "1",
        "Production",
        "Archived",
    )
    for r in got:
        expected = hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
        assert r.headers["X-Databricks-Signature"] == expected
        assert r.headers["Authorization"] == "Bearer x"

    test = w.model_registry.test_registry_webhook(
        id=hook.id, event=RegistryWebhookEvent.MODEL_VERSION_TRANSITIONED_TO_PRODUCTION
    )
    assert test.status_code == 200
    w.model_registry.update_webhook(id=hook.id, status=RegistryWebhookStatus.DISABLED)
    [again] = list(w.model_registry.list_webhooks(model_name=name))
    assert again.status == RegistryWebhookStatus.DISABLED


def test_retries_until_success_and_logs_every_attempt(
    mlflow_client: Any, receiver: Receiver, hook_server: ServerProcess
) -> None:
    from mlflow.entities.webhook import WebhookEvent

    client, created = mlflow_client
    receiver.answer(500, 500, 500)
    hook = client.create_webhook(
        name="flaky", url=receiver.url, events=[WebhookEvent("registered_model", "created")]
    )
    created.append(hook.webhook_id)
    name = _name("wh-retry")
    client.create_registered_model(name)

    def mine(r: Received) -> bool:
        return bool(r.json()["data"].get("name") == name)

    got = receiver.wait_for(mine, count=4)
    ids = {r.headers["X-MLflow-Delivery-Id"] for r in got}
    assert len(ids) == 1  # one delivery, retried under its stable id

    [delivery] = _poll(
        lambda: _deliveries(hook_server, hook.webhook_id),
        lambda log: bool(log) and log[0]["status"] == "DELIVERED",
    )
    assert delivery["status"] == "DELIVERED"
    assert delivery["delivery_id"] in ids
    assert delivery["attempts"] == 4
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 500, 200]
    assert all(a["latency_ms"] >= 0 and a["time"] > 0 for a in delivery["attempt_log"])
    # Delivered means done: no fifth request arrives (the log said DELIVERED first).
    assert len(receiver.matching(mine)) == 4
