"""Schema of webhooks, their outbox and delivery log (migration 0005_webhooks).

* `webhooks` / `webhook_subscriptions`: subscribers and the event names they
  asked for (either dialect's names; `subscriber_names` maps events to them).
  Secrets and Authorization headers are stored as Fernet ciphertexts.
* `webhook_events`: the outbox. A registry change writes its row in its own
  transaction, together with one `webhook_deliveries` row per matching
  subscription, so a committed change always has its deliveries.
* `webhook_deliveries`: one per (event, webhook, subscribed name); the id is
  the stable delivery id receivers de-duplicate on. `lease_owner` /
  `lease_until` let several processes share the work without sending one
  delivery twice at once; a crashed process's lease simply runs out.
* `webhook_attempts`: the delivery log, one row per HTTP attempt.
"""

from __future__ import annotations

WEBHOOKS_MIGRATION_NAME = "0005_webhooks"

WEBHOOKS_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE webhooks (
        webhook_id TEXT PRIMARY KEY,
        flavor TEXT NOT NULL,
        name TEXT,
        description TEXT,
        url TEXT NOT NULL,
        model_name TEXT,
        status TEXT NOT NULL,
        secret_token TEXT,
        authorization_token TEXT,
        verify_tls INTEGER NOT NULL DEFAULT 1,
        created_by TEXT,
        creation_time BIGINT NOT NULL,
        last_updated_time BIGINT NOT NULL
    )""",
    "CREATE INDEX webhooks_by_model ON webhooks (model_name)",
    """CREATE TABLE webhook_subscriptions (
        webhook_id TEXT NOT NULL REFERENCES webhooks(webhook_id) ON DELETE CASCADE,
        event TEXT NOT NULL,
        PRIMARY KEY (webhook_id, event)
    )""",
    "CREATE INDEX webhook_subscriptions_by_event ON webhook_subscriptions (event, webhook_id)",
    """CREATE TABLE webhook_events (
        event_id {id_pk},
        event TEXT NOT NULL,
        model_name TEXT NOT NULL,
        version BIGINT,
        user_id TEXT,
        timestamp BIGINT NOT NULL,
        data TEXT NOT NULL
    )""",
    """CREATE TABLE webhook_deliveries (
        delivery_id TEXT PRIMARY KEY,
        event_id BIGINT NOT NULL REFERENCES webhook_events(event_id) ON DELETE CASCADE,
        webhook_id TEXT NOT NULL REFERENCES webhooks(webhook_id) ON DELETE CASCADE,
        event_name TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        next_attempt_at BIGINT,
        finished_at BIGINT,
        lease_owner TEXT,
        lease_until BIGINT
    )""",
    # The deliverer's question: what is due now? (pending rows only, by time)
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
    "CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at)",
    "CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id)",
    """CREATE TABLE webhook_attempts (
        attempt_id {id_pk},
        delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(delivery_id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        latency_ms BIGINT NOT NULL,
        status_code INTEGER,
        response_body TEXT,
        error TEXT
    )""",
    "CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, number)",
    "CREATE INDEX webhook_events_by_time ON webhook_events (timestamp)",
)
