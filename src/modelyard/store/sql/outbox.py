"""The webhook outbox: `emit` records a registry event inside the caller's transaction.

Anyone who changes the registry (the registry store, approvals, comments)
calls `emit(tx, event, ...)` with the transaction that makes the change. The
event row and one delivery row per matching active subscription commit or
roll back together with the change itself, so a committed promotion always
has its deliveries, even if the process dies right after the commit, and a
rolled-back one never does.

Subscriptions are read here, in the same transaction, never from a cache: a
webhook created, disabled or deleted a moment ago is taken into account by
the very next event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from modelyard.store.sql.db import Tx
from modelyard.store.sql.sql_text import placeholders
from modelyard.webhook_entities import DeliveryStatus, RegistryEvent, subscriber_names


def emit(
    tx: Tx,
    event: str,
    *,
    model_name: str,
    now: int,
    version: int | None = None,
    user: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> int:
    """Record `event` and queue its deliveries; returns how many were queued.

    `data` carries the event's details (tags, stages, alias, comment ...) as
    JSON-able values; payload builders pick what their dialect sends. When no
    active webhook listens, nothing is written at all.
    """
    if event not in RegistryEvent.ALL:
        raise ValueError(f"unknown registry event {event!r}")
    details = dict(data or {})
    names = subscriber_names(event, details)
    if not names:
        return 0
    # ACTIVE webhooks only: TEST_MODE ones fire through the test endpoint alone.
    targets = tx.all(
        "SELECT s.webhook_id, s.event FROM webhook_subscriptions s "
        "JOIN webhooks w ON w.webhook_id = s.webhook_id "
        f"WHERE s.event IN ({placeholders(len(names))}) AND w.status = 'ACTIVE' "
        "AND (w.model_name IS NULL OR w.model_name = ?) "
        "ORDER BY s.webhook_id, s.event",
        (*names, model_name),
    )
    if not targets:
        return 0
    event_id = tx.scalar(
        "INSERT INTO webhook_events (event, model_name, version, user_id, timestamp, data) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING event_id",
        (event, model_name, version, user, now, json.dumps(details, sort_keys=True)),
    )
    tx.executemany(
        "INSERT INTO webhook_deliveries (delivery_id, event_id, webhook_id, event_name, "
        "status, attempts, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        [
            (str(uuid.uuid4()), event_id, webhook_id, name, DeliveryStatus.PENDING, now, now)
            for webhook_id, name in targets
        ],
    )
    return len(targets)
