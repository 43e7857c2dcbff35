"""The outbox, leases and the deliverer on SQLite and PostgreSQL, driven by an
injected clock (`Deliverer.run_once(now)`), against a real receiver on loopback."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from webhooks.receiver import Receiver, running_receiver

from modelyard.service.webhook_delivery import Deliverer, DeliveryConfig
from modelyard.service.webhook_secrets import SecretBox
from modelyard.service.webhook_targets import TargetPolicy
from modelyard.store.registry import Actor
from modelyard.store.sql.db import Database
from modelyard.store.sql.outbox import emit
from modelyard.store.sql.registry import SqlRegistryStore
from modelyard.store.sql.webhooks import SqlWebhookStore
from modelyard.webhook_entities import DeliveryStatus, Flavor, RegistryEvent, Webhook

T0 = 1_700_000_000_000
OPEN = TargetPolicy(allow_http=True, allow_private=True, timeout_s=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def _hook(
    store: SqlWebhookStore, url: str, events: tuple[str, ...], status: str = "ACTIVE"
) -> Webhook:
    return store.create_webhook(
        Webhook(
            webhook_id=f"wh{len(store.list_webhooks(None, max_results=100, offset=0).items)}",
            flavor=Flavor.DATABRICKS,
            name=None,
            url=url,
            events=events,
            status=status,
            creation_timestamp=T0,
            last_updated_timestamp=T0,
        ),
        None,
        None,
    )


def _deliverer(
    store: SqlWebhookStore, policy: TargetPolicy = OPEN, window_ms: int = 3_600_000
) -> Deliverer:
    config = DeliveryConfig(policy=policy, retry_base_ms=1000, retry_window_ms=window_ms)
    return Deliverer(store, SecretBox(None), config, clock=lambda: T0, rng=random.Random(7))


def _promote(db: Database, name: str = "m") -> None:
    """v1 in Production, then v2 promoted over it (v1 archived by the stage rule)."""
    registry = SqlRegistryStore(db)
    registry.create_registered_model(name, None, [], T0)
    from modelyard.store.registry import NewModelVersion

    for _ in range(2):
        registry.create_model_version(
            NewModelVersion(name, "runs:/r/m", None, None, None, None, None, None), Actor(T0)
        )
    for version in (1, 2):
        registry.transition_stage(
            name,
            version,
            "Production",
            archive_others=True,
            exclusive=True,
            actor=Actor(T0, "alice"),
            cause="request",
        )


def test_outbox_rows_roll_back_with_their_transaction(db: Database) -> None:
    store = SqlWebhookStore(db)
    _hook(store, "http://127.0.0.1:9/x", ("REGISTERED_MODEL_CREATED",))
    with pytest.raises(RuntimeError), db.write() as tx:
        queued = emit(tx, RegistryEvent.REGISTERED_MODEL_CREATED, model_name="m", now=T0)
        assert queued == 1
        raise RuntimeError("the change fails")
    with db.read() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM webhook_deliveries") == 0
        assert tx.scalar("SELECT COUNT(*) FROM webhook_events") == 0


def test_promotion_queues_production_and_archived_in_its_transaction(
    db: Database, receiver: Receiver
) -> None:
    store = SqlWebhookStore(db)
    hook = _hook(
        store,
        receiver.url,
        ("MODEL_VERSION_TRANSITIONED_TO_PRODUCTION", "MODEL_VERSION_TRANSITIONED_TO_ARCHIVED"),
    )
    _hook(store, receiver.url, ("MODEL_VERSION_TAG_SET",), status="DISABLED")
    _promote(db)
    assert _deliverer(store).run_once(T0) == 3  # v1 -> Prod, v2 -> Prod, v1 -> Archived
    bodies = sorted(
        (r.json()["event"], r.json()["version"], r.json()["from_stage"]) for r in receiver.requests
    )
    assert bodies == [
        ("MODEL_VERSION_TRANSITIONED_TO_ARCHIVED", "1", "Production"),
        ("MODEL_VERSION_TRANSITIONED_TO_PRODUCTION", "1", "None"),
        ("MODEL_VERSION_TRANSITIONED_TO_PRODUCTION", "2", "None"),
    ]
    log = store.list_deliveries(hook.webhook_id, max_results=10, offset=0).items
    assert {d.status for d in log} == {DeliveryStatus.DELIVERED}
    assert _deliverer(store).run_once(T0 + 10**9) == 0  # nothing is sent twice


def test_retries_with_backoff_then_delivers(db: Database, receiver: Receiver) -> None:
    store = SqlWebhookStore(db)
    hook = _hook(store, receiver.url, ("REGISTERED_MODEL_CREATED",))
    SqlRegistryStore(db).create_registered_model("m", None, [], T0)
    receiver.answer(500, 429, 503)
    deliverer = _deliverer(store)
    now = T0
    waits = []
    for _ in range(3):
        assert deliverer.run_once(now) == 1
        [d] = store.list_deliveries(hook.webhook_id, max_results=1, offset=0).items
        assert d.status == DeliveryStatus.PENDING and d.next_attempt_at is not None
        waits.append(d.next_attempt_at - now)
        assert deliverer.run_once(d.next_attempt_at - 1) == 0  # not due yet: nothing sent
        now = d.next_attempt_at
    assert deliverer.run_once(now) == 1
    # Exponential with jitter: attempt n waits within [0.5, 1) x 1000 ms x 2^(n-1).
    assert all(1000 * 2**i // 2 <= w < 1000 * 2**i for i, w in enumerate(waits)), waits
    [d] = store.list_deliveries(hook.webhook_id, max_results=1, offset=0).items
    assert (d.status, d.attempts) == (DeliveryStatus.DELIVERED, 4)
    assert [a.status_code for a in d.attempt_log] == [500, 429, 503, 200]
    assert len({r.headers["X-Modelyard-Delivery-Id"] for r in receiver.requests}) == 1


def test_gives_up_after_the_retry_window(db: Database, receiver: Receiver) -> None:
    store = SqlWebhookStore(db)
    hook = _hook(store, receiver.url, ("REGISTERED_MODEL_CREATED",))
    SqlRegistryStore(db).create_registered_model("m", None, [], T0)
    receiver.answer(*[502] * 10)
    deliverer = _deliverer(store, window_ms=5000)
    now = T0
    while deliverer.run_once(now):
        [d] = store.list_deliveries(hook.webhook_id, max_results=1, offset=0).items
        if d.next_attempt_at is None:
            break
        now = d.next_attempt_at
    [d] = store.list_deliveries(hook.webhook_id, max_results=1, offset=0).items
    assert d.status == DeliveryStatus.FAILED
    assert 2 <= d.attempts <= 4 and all(a.status_code == 502 for a in d.attempt_log)


def test_a_client_error_fails_at_once(db: Database, receiver: Receiver) -> None:
    store = SqlWebhookStore(db)
    hook = _hook(store, receiver.url, ("REGISTERED_MODEL_CREATED",))
    SqlRegistryStore(db).create_registered_model("m", None, [], T0)
    receiver.answer(404)
    _deliverer(store).run_once(T0)
    [d] = store.list_deliveries(hook.webhook_id, max_results=1, offset=0).items
    assert (d.status, d.attempts, d.attempt_log[0].status_code) == ("failed", 1, 404)


def test_private_target_is_refused_at_delivery_time(db: Database, receiver: Receiver) -> None:
    """Saved while private targets were allowed, delivered by a process that refuses them:
    the check is made against the address connected, not only at creation."""
    store = SqlWebhookStore(db)
    hook = _hook(
        store, receiver.url.replace("127.0.0.1", "localhost"), ("REGISTERED_MODEL_CREATED",)
    )
    SqlRegistryStore(db).create_registered_model("m", None, [], T0)
    _deliverer(store, TargetPolicy(allow_http=True, allow_private=False)).run_once(T0)
    [d] = store.list_deliveries(hook.webhook_id, max_results=1, offset=0).items
    assert d.status == DeliveryStatus.FAILED
    assert d.attempt_log[0].error is not None
    assert "--webhook-allow-private" in d.attempt_log[0].error
    assert receiver.requests == []


def test_leases_keep_two_claimers_apart(db: Database) -> None:
    store = SqlWebhookStore(db)
    _hook(store, "http://127.0.0.1:9/x", ("REGISTERED_MODEL_CREATED",))
    SqlRegistryStore(db).create_registered_model("m", None, [], T0)
    first = store.claim(T0, lease_ms=1000, limit=10)
    assert len(first) == 1
    assert store.claim(T0, lease_ms=1000, limit=10) == []  # leased
    assert not store.has_due(T0 + 999)
    # The first claimer died: its lease runs out and another process takes over.
    second = store.claim(T0 + 1000, lease_ms=1000, limit=10)
    assert [c.delivery.delivery_id for c in second] == [first[0].delivery.delivery_id]
    from modelyard.webhook_entities import Attempt

    late = Attempt(1, T0, 5, 200, "", None)
    assert not store.record_attempt(
        first[0].delivery.delivery_id,
        first[0].lease_token,
        late,
        status="delivered",
        next_attempt_at=None,
    )
    assert store.record_attempt(
        second[0].delivery.delivery_id,
        second[0].lease_token,
        late,
        status="delivered",
        next_attempt_at=None,
    )


def test_disabled_after_queueing_is_dropped_and_prune_forgets_old_entries(
    db: Database, receiver: Receiver
) -> None:
    store = SqlWebhookStore(db)
    hook = _hook(store, receiver.url, ("REGISTERED_MODEL_CREATED",))
    SqlRegistryStore(db).create_registered_model("m", None, [], T0)
    store.update_webhook(hook.webhook_id, Flavor.DATABRICKS, T0, fields={"status": "DISABLED"})
    _deliverer(store).run_once(T0)
    assert receiver.requests == []
    [d] = store.list_deliveries(hook.webhook_id, max_results=1, offset=0).items
    assert d.status == DeliveryStatus.FAILED
    redone = store.redeliver(hook.webhook_id, d.delivery_id, T0 + 5)
    assert (redone.delivery_id, redone.status) == (d.delivery_id, DeliveryStatus.PENDING)
    store.update_webhook(hook.webhook_id, Flavor.DATABRICKS, T0, fields={"status": "ACTIVE"})
    _deliverer(store).run_once(T0 + 5)
    assert [r.headers["X-Modelyard-Delivery-Id"] for r in receiver.requests] == [d.delivery_id]
    assert store.prune(T0 + 6) == 1
    assert store.list_deliveries(hook.webhook_id, max_results=1, offset=0).items == []
    with db.read() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM webhook_events") == 0


def test_transition_requests_and_comments_reach_databricks_webhooks(
    db: Database, receiver: Receiver
) -> None:
    from modelyard.store.registry import NewModelVersion
    from modelyard.store.sql.transition_requests import SqlTransitionRequestStore

    store = SqlWebhookStore(db)
    _hook(
        store,
        receiver.url,
        ("TRANSITION_REQUEST_TO_PRODUCTION_CREATED", "COMMENT_CREATED"),
    )
    registry = SqlRegistryStore(db)
    registry.create_registered_model("m", None, [], T0)
    registry.create_model_version(
        NewModelVersion("m", "runs:/r/m", None, None, None, None, None, None), Actor(T0)
    )
    approvals = SqlTransitionRequestStore(db, registry)
    approvals.create_request("m", 1, "Staging", Actor(T0, "bob", "not subscribed"))
    approvals.create_request("m", 1, "Production", Actor(T0, "bob", "ready to ship"))
    approvals.add_comment("m", 1, Actor(T0, "carol", "looks good"))
    assert _deliverer(store).run_once(T0) == 2
    got = {r.json()["event"]: r.json() for r in receiver.requests}
    request = got["TRANSITION_REQUEST_TO_PRODUCTION_CREATED"]
    assert (request["to_stage"], request["from_stage"], request["user_id"]) == (
        "Production",
        "None",
        "bob",
    )
    assert request["text"] == (
        "bob requested that Registered model 'm' version 1 transition from None to "
        "Production: ready to ship."
    )
    comment = got["COMMENT_CREATED"]
    assert (comment["comment"], comment["user_id"], comment["version"]) == (
        "looks good",
        "carol",
        "1",
    )
