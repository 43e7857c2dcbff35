"""Durability across processes: a server killed with SIGKILL, two servers on one
PostgreSQL, and the default refusal of private targets."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hookflags import FLAGS
from receiver import Receiver
from servers import ServerProcess, modelyard_server, throwaway_postgres

T = TypeVar("T")
API = "/api/2.0/mlflow"


def _post(server: ServerProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = httpx.post(f"{server.url}{API}/{path}", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)  # polling with a deadline


def _deliveries(server: ServerProcess, webhook_id: str) -> list[dict[str, Any]]:
    resp = httpx.get(
        f"{server.url}{API}/webhooks/{webhook_id}/deliveries",
        params={"max_results": 1000},
        timeout=30,
    )
    resp.raise_for_status()
    return list(resp.json().get("deliveries", []))


def _production_hook(server: ServerProcess, url: str, model: str) -> str:
    hook = _post(
        server,
        "registry-webhooks/create",
        {
            "model_name": model,
            "events": ["MODEL_VERSION_TRANSITIONED_TO_PRODUCTION"],
            "http_url_spec": {"url": url},
        },
    )
    return str(hook["webhook"]["id"])


def _promote(server: ServerProcess, model: str) -> None:
    _post(server, "registered-models/create", {"name": model})
    run = _post(server, "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    _post(
        server,
        "model-versions/create",
        {"name": model, "source": f"runs:/{run}/model", "run_id": run},
    )
    _post(
        server,
        "model-versions/transition-stage",
        {"name": model, "version": "1", "stage": "Production", "archive_existing_versions": False},
    )


def _sigkill(server: ServerProcess) -> None:
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kill.db'}"
    else:
        with throwaway_postgres() as url:
            yield url


def test_promotion_committed_before_sigkill_is_delivered_after_restart(
    store_uri: str, receiver: Receiver, tmp_path: Path
) -> None:
    # The first process looks for work at start-up and then not for ten minutes, so the
    # promotion's delivery is normally still in the outbox when it is killed. Should its
    # first look come after the promotion (a loaded machine), the held receiver never
    # answers it: either way only the restarted process can complete the delivery.
    idle = [*FLAGS, "--webhook-poll-ms", "600000"]
    receiver.hold()
    with modelyard_server(tmp_path / "a", store_uri, extra_args=idle) as first:
        webhook_id = _production_hook(first, receiver.url, "killed")
        _promote(first, "killed")
        _sigkill(first)
    receiver.release()
    with modelyard_server(tmp_path / "b", store_uri, extra_args=FLAGS) as second:
        [delivery] = _poll(
            lambda: _deliveries(second, webhook_id), lambda d: d[0]["status"] == "DELIVERED"
        )
        assert delivery["status"] == "DELIVERED"
        assert delivery["attempts"] == 1  # the one that succeeded, by the second process
    got = receiver.matching(lambda r: True)
    assert {r.headers["X-Modelyard-Delivery-Id"] for r in got} == {delivery["delivery_id"]}
    body = got[-1].json()
    assert (body["event"], body["model_name"], body["version"]) == (
        "MODEL_VERSION_TRANSITIONED_TO_PRODUCTION",
        "killed",
        "1",
    )


def test_killed_mid_delivery_is_redelivered_under_the_same_id(
    receiver: Receiver, tmp_path: Path
) -> None:
    """At least once: the lease of the killed process runs out and the restarted one
    sends the same delivery again (same delivery id, for the receiver to de-duplicate)."""
    uri = f"sqlite:///{tmp_path / 'mid.db'}"
    fast = [*FLAGS, "--webhook-timeout", "1"]  # lease: 3 x timeout + 5 s
    receiver.hold()
    with modelyard_server(tmp_path / "a", uri, extra_args=fast) as first:
        webhook_id = _production_hook(first, receiver.url, "mid")
        _promote(first, "mid")
        receiver.wait_for(lambda r: True)  # in flight, unanswered
        _sigkill(first)
    receiver.release()
    with modelyard_server(tmp_path / "b", uri, extra_args=fast) as second:
        got = receiver.wait_for(lambda r: True, count=2)
        ids = {r.headers["X-Modelyard-Delivery-Id"] for r in got}
        assert len(ids) == 1
        [delivery] = _poll(
            lambda: _deliveries(second, webhook_id), lambda d: d[0]["status"] == "DELIVERED"
        )
        assert delivery["delivery_id"] in ids


def test_two_processes_on_one_postgresql_deliver_each_event_once(
    receiver: Receiver, tmp_path: Path
) -> None:
    events = 30
    with (
        throwaway_postgres() as uri,
        modelyard_server(tmp_path / "a", uri, extra_args=FLAGS) as one,
        modelyard_server(tmp_path / "b", uri, extra_args=FLAGS) as two,
    ):
        hook = _post(
            one,
            "webhooks",
            {
                "name": "both",
                "url": receiver.url,
                "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
            },
        )
        webhook_id = hook["webhook"]["webhook_id"]
        for i in range(events):
            _post(one if i % 2 else two, "registered-models/create", {"name": f"pair-{i}"})
        log = _poll(
            lambda: _deliveries(one, webhook_id),
            lambda d: len(d) == events and all(x["status"] == "DELIVERED" for x in d),
        )
        assert len(log) == events and {x["status"] for x in log} == {"DELIVERED"}
        # Every delivery is finished, so no request can still be on its way.
        ids = [r.headers["X-MLflow-Delivery-Id"] for r in receiver.requests]
        assert len(ids) == events and len(set(ids)) == events
        names = sorted(r.json()["data"]["name"] for r in receiver.requests)
        assert names == sorted(f"pair-{i}" for i in range(events))


def test_secret_key_rotation_across_restarts(receiver: Receiver, tmp_path: Path) -> None:
    """Stored with key A; restarted with 'B,A' (re-encrypts); then B alone still signs;
    with no key at all the server refuses to start and says why."""
    uri = f"sqlite:///{tmp_path / 'keys.db'}"
    base = list(FLAGS)
    key_at = base.index("--secret-key") + 1

    def flags(key: str | None) -> list[str]:
        if key is None:
            return base[: key_at - 1] + base[key_at + 1 :]
        return [*base[:key_at], key, *base[key_at + 1 :]]

    with modelyard_server(tmp_path / "a", uri, extra_args=flags("key-a")) as first:
        hook = _post(
            first,
            "webhooks",
            {
                "name": "rotated",
                "url": receiver.url,
                "secret": "receiver-secret",
                "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
            },
        )
        assert "secret" not in hook["webhook"]
    with modelyard_server(tmp_path / "b", uri, extra_args=flags("key-b,key-a")):
        pass
    with (
        pytest.raises(RuntimeError, match="no key"),
        modelyard_server(tmp_path / "c", uri, extra_args=flags(None)),
    ):
        pass
    with modelyard_server(tmp_path / "d", uri, extra_args=flags("key-b")) as last:
        _post(last, "registered-models/create", {"name": "after-rotation"})
        [got] = receiver.wait_for(lambda r: r.json()["data"]["name"] == "after-rotation")
    import base64
    import hashlib
    import hmac

    signed = (
        f"{got.headers['X-MLflow-Delivery-Id']}.{got.headers['X-MLflow-Timestamp']}.".encode()
        + got.body
    )
    digest = hmac.new(b"receiver-secret", signed, hashlib.sha256).digest()
    assert got.headers["X-MLflow-Signature"] == "v1," + base64.b64encode(digest).decode()


def test_private_targets_are_refused_by_default(tmp_path: Path) -> None:
    with modelyard_server(tmp_path / "strict", extra_args=["--webhook-allow-http"]) as server:
        for url in ("http://127.0.0.1:8080/hook", "http://localhost/x", "http://169.254.169.254/"):
            resp = httpx.post(
                f"{server.url}{API}/webhooks",
                json={
                    "name": "nope",
                    "url": url,
                    "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}],
                },
            )
            assert resp.status_code == 400, resp.text
            assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert "--webhook-allow-private" in resp.json()["message"]
        resp = httpx.post(
            f"{server.url}{API}/registry-webhooks/create",
            json={"events": ["MODEL_VERSION_CREATED"], "http_url_spec": {"url": "ftp://x.org/"}},
        )
        assert resp.status_code == 400 and "scheme" in resp.json()["message"]
        bad = [
            ("POST", "webhooks", {"url": "https://8.8.8.8/", "events": []}, "name"),
            (
                "POST",
                "webhooks",
                {"name": "x", "url": "https://8.8.8.8/", "events": []},
                "events cannot be empty",
            ),
            (
                "POST",
                "webhooks",
                {
                    "name": "x",
                    "url": "https://8.8.8.8/",
                    "events": [{"entity": "MODEL_VERSION", "action": "EXPLODED"}],
                },
                "model_version.exploded",
            ),
            (
                "POST",
                "registry-webhooks/create",
                {
                    "model_name": "m",
                    "events": ["REGISTERED_MODEL_CREATED"],
                    "http_url_spec": {"url": "https://8.8.8.8/"},
                },
                "registry-wide",
            ),
            (
                "POST",
                "registry-webhooks/create",
                {"events": ["MODEL_VERSION_CREATED"], "job_spec": {"job_id": "1"}},
                "job_spec",
            ),
        ]
        for method, path, body, words in bad:
            resp = httpx.request(method, f"{server.url}{API}/{path}", json=body)
            assert resp.status_code == 400, resp.text
            assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert words in resp.json()["message"], resp.json()["message"]
        missing = httpx.get(f"{server.url}{API}/webhooks/no-such-id")
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        gone = httpx.delete(f"{server.url}{API}/registry-webhooks/delete", params={"id": "nope"})
        assert gone.status_code == 404
